//! Reading pip's error output: what its hash-checking mode refused, and which distributions it could
//! not find.

use std::fs;
use std::path::Path;

/// What pip's hash-checking mode refused, said in terms of the requirements file: the requirement
/// whose archive does not match its hash, or the first one without a hash under `--require-hashes`,
/// with its line. None when pip failed for another reason.
///
/// # References
/// pip's "Secure installs" (hash-checking mode) documentation.
pub(super) fn hash_problem(pip_output: &str, requirements: &Path) -> Option<String> {
    let file = requirements
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let lines: Vec<&str> = pip_output.lines().collect();
    if let Some(at) = lines
        .iter()
        .position(|l| l.contains("DO NOT MATCH THE HASHES"))
    {
        let entry = lines.get(at + 1)?.trim();
        let requirement = entry.split_whitespace().next()?;
        let line = entry
            .rsplit_once("(line ")
            .and_then(|(_, n)| n.split(')').next())
            .unwrap_or("?");
        let expected = lines
            .get(at + 2)
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?");
        let got = lines
            .get(at + 3)
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?");
        return Some(format!(
            "{file}, line {line}: the archive of {requirement} does not match its hash (expected {expected}, \
             got {got}); if the version changed, update the hash, otherwise the archive was tampered with"
        ));
    }
    let at = lines
        .iter()
        .position(|l| l.contains("Hashes are required in --require-hashes mode"))?;
    let entry = lines.get(at + 1)?.trim();
    let (requirement, hash) = entry.split_once(" --hash=")?;
    let text = fs::read_to_string(requirements).unwrap_or_default();
    let name = requirement
        .split(['=', '<', '>', '!', '~', '[', ';', ' '])
        .next()
        .unwrap_or(requirement);
    let normalize = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let line = text
        .lines()
        .position(|l| normalize(l.trim_start()).starts_with(&normalize(name)))
        .map_or_else(|| "?".to_owned(), |n| (n + 1).to_string());
    Some(format!(
        "{file}, line {line}: {requirement} has no hash, and --require-hashes requires one (its archive's is \
         --hash={hash})"
    ))
}

/// The requirements pip could not find (`No matching distribution found for <requirement>`).
pub(crate) fn missing_distributions(pip_output: &str) -> Vec<String> {
    let mut missing: Vec<String> = pip_output
        .lines()
        .filter_map(|l| {
            l.split_once("No matching distribution found for ")
                .map(|(_, r)| r.trim().to_owned())
        })
        .filter(|r| !r.is_empty())
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_problems_name_the_requirement_and_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let requirements = dir.path().join("requirements.txt");
        fs::write(&requirements, "# pinned\ngreetlib==1.0\nFastsum==1.0\n").unwrap();
        let mismatch = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated...\n\
            \x20   greetlib==1.0 from file:///w/greetlib-1.0-py3-none-any.whl (from -r requirements.txt (line 2)):\n\
            \x20       Expected sha256 0000\n\
            \x20            Got        d17e\n";
        assert_eq!(
            hash_problem(mismatch, &requirements).unwrap(),
            "requirements.txt, line 2: the archive of greetlib==1.0 does not match its hash (expected 0000, got \
             d17e); if the version changed, update the hash, otherwise the archive was tampered with"
        );
        let missing = "ERROR: Hashes are required in --require-hashes mode, but they are missing from some requirements.\n\
            \x20   fastsum==1.0 --hash=sha256:abcd\n";
        assert_eq!(
            hash_problem(missing, &requirements).unwrap(),
            "requirements.txt, line 3: fastsum==1.0 has no hash, and --require-hashes requires one (its archive's \
             is --hash=sha256:abcd)"
        );
        assert_eq!(
            hash_problem("ERROR: No matching distribution found for x", &requirements),
            None
        );
    }

    #[test]
    fn missing_distributions_are_read_from_pips_errors() {
        let output = "ERROR: Could not find a version that satisfies the requirement setuptools>=61 (from versions: none)\n\
                      ERROR: No matching distribution found for setuptools>=61\n\
                      ERROR: No matching distribution found for setuptools>=61\n";
        assert_eq!(missing_distributions(output), ["setuptools>=61"]);
        assert!(missing_distributions("ERROR: something else").is_empty());
    }
}
