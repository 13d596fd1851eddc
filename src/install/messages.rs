//! Reading pip's error output: what its hash-checking mode refused, which distributions it could
//! not find, and the hint a failed install gets ([`install_hint`]).

use std::fs;
use std::path::Path;

use crate::command::CommandError;
use crate::interrupt::Interrupted;

/// The hint a failed installer call gets, from what the installer printed: what to do about it, or
/// None when its output says nothing a hint could help with.
///
/// - pip or uv said a distribution is missing (`No matching distribution found for`, uv's `not found
///   in the package registry`) and the install is offline from the `wheelhouse` (relative to the top
///   of the source package, as the user names it): add what is missing with `dh_rustvenv
///   --download`. Without a wheelhouse, no hint: the index is the user's to check.
/// - The disk is full (`No space left on device`, errno 28, `ENOSPC`): free space where the build
///   writes; no download can help.
/// - The run was interrupted ([`Interrupted`] anywhere in `error`'s chain), the command could not be
///   started, or it failed for any other reason: None.
///
/// Disk-full is looked at first: pip that runs out of space while unpacking says nothing about
/// missing distributions, but a later line could quote a requirement that is.
pub(crate) fn install_hint(error: &anyhow::Error, wheelhouse: Option<&Path>) -> Option<String> {
    if error
        .chain()
        .any(|e| e.downcast_ref::<Interrupted>().is_some())
    {
        return None;
    }
    let output = error
        .chain()
        .find_map(|e| match e.downcast_ref::<CommandError>() {
            Some(CommandError::Failed { output, .. }) => Some(output.as_str()),
            _ => None,
        })?;
    if disk_full(output) {
        return Some(
            "the disk is full (No space left on device): free space in the build directory and in \
             TMPDIR, then build again"
                .to_owned(),
        );
    }
    let wheelhouse = wheelhouse?;
    let missing = missing_distributions(output);
    (!missing.is_empty()).then(|| {
        format!(
            "{} not in the wheelhouse {}: add what is missing with dh_rustvenv --download",
            missing.join(", "),
            wheelhouse.display()
        )
    })
}

/// Whether a tool's output says the disk is full: the C library's message for ENOSPC (errno 28), as
/// Python's `OSError` prints it (`[Errno 28] No space left on device`) and as compilers and tar do.
#[allow(dead_code)]
fn disk_full(output: &str) -> bool {
    output.contains("No space left on device") || output.contains("[Errno 28]")
}

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

/// The requirements pip could not find (`No matching distribution found for <requirement>`), and
/// those uv could not (`Because <name> was not found in the package registry`).
pub(crate) fn missing_distributions(pip_output: &str) -> Vec<String> {
    let mut missing: Vec<String> = pip_output
        .lines()
        .filter_map(|l| {
            l.split_once("No matching distribution found for ")
                .map(|(_, r)| r.trim().to_owned())
                .or_else(|| {
                    let (before, _) = l.split_once(" was not found in the package registry")?;
                    let name = before.rsplit_once("Because ").map_or(before, |(_, n)| n);
                    Some(name.trim().to_owned())
                })
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

    fn failed(output: &str) -> anyhow::Error {
        anyhow::Error::from(CommandError::Failed {
            message: "pip exited with status 1".to_owned(),
            output: output.to_owned(),
        })
        .context("installing requirements.txt")
    }

    #[test]
    fn only_a_missing_distribution_gets_the_download_hint() {
        let wheelhouse = Some(Path::new("debian/wheelhouse"));
        let missing = failed(
            "Looking in links: /build/debian/wheelhouse\n\
             ERROR: Could not find a version that satisfies the requirement nosuch==1.0 (from versions: none)\n\
             ERROR: No matching distribution found for nosuch==1.0\n",
        );
        assert_eq!(
            install_hint(&missing, wheelhouse).unwrap(),
            "nosuch==1.0 not in the wheelhouse debian/wheelhouse: add what is missing with \
             dh_rustvenv --download"
        );
        // Online, the index is the user's to check.
        assert_eq!(install_hint(&missing, None), None);
        let uv = failed(
            "  x No solution found when resolving dependencies:\n  `-> Because nosuch was not found in the package registry and you require nosuch, we can conclude that your requirements are unsatisfiable.\n",
        );
        assert!(
            install_hint(&uv, wheelhouse)
                .unwrap()
                .starts_with("nosuch not in the wheelhouse"),
            "{:?}",
            install_hint(&uv, wheelhouse)
        );
    }

    #[test]
    fn a_full_disk_gets_a_disk_space_hint_and_no_download_hint() {
        let wheelhouse = Some(Path::new("debian/wheelhouse"));
        for output in [
            "Processing ./wheelhouse/fastsum-1.0.tar.gz\n\
             ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
            "fastsum.c:1: fatal error: error writing to /tmp/ccX.s: No space left on device\n\
             error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1\n",
        ] {
            let hint = install_hint(&failed(output), wheelhouse).unwrap();
            assert!(hint.starts_with("the disk is full"), "{hint}");
            assert!(!hint.contains("--download"), "{hint}");
        }
    }

    #[test]
    fn an_interrupt_or_another_failure_gets_no_hint() {
        let wheelhouse = Some(Path::new("debian/wheelhouse"));
        let interrupted = failed("ERROR: Operation cancelled by user\n")
            .context(Interrupted(signal_hook::consts::SIGTERM));
        assert_eq!(install_hint(&interrupted, wheelhouse), None);
        let interrupted = anyhow::Error::from(Interrupted(signal_hook::consts::SIGINT))
            .context("installing requirements.txt");
        assert_eq!(install_hint(&interrupted, wheelhouse), None);
        let other = failed("error: subprocess-exited-with-error\n");
        assert_eq!(install_hint(&other, wheelhouse), None);
        let not_started = anyhow::Error::from(CommandError::NotStarted {
            message: "could not start `pip`".to_owned(),
        });
        assert_eq!(install_hint(&not_started, wheelhouse), None);
    }
}
