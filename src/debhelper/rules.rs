//! `debian/rules`: its explicit targets and whether each does something, read from make's database
//! (`make -p`) as dh reads them.

use std::path::Path;

use anyhow::{Context, Result};

use crate::command::Command;

/// The explicit targets of `debian/rules` and whether each does something: true when it has a recipe
/// or prerequisites, false when it is empty (as `override_dh_strip:` with nothing under it).
///
/// # Errors
/// When make cannot be run.
///
/// # References
/// debhelper 13.11 `SequencerUtil.pm`, `rules_explicit_target`, which dh uses to skip empty override
/// targets; this reads make's database the same way.
pub fn rules_targets(top: &Path) -> Result<std::collections::BTreeMap<String, bool>> {
    let output = Command::new("make")
        .args(["-Rrnpsf", "debian/rules", "debhelper-fail-me"])
        .dir(top)
        .env("LC_ALL", "C")
        .capture()
        .context("reading the targets of debian/rules")?
        .1;
    Ok(parse_make_database(&output))
}

/// [`rules_targets`] over the text of `make -p`.
fn parse_make_database(text: &str) -> std::collections::BTreeMap<String, bool> {
    let mut targets = std::collections::BTreeMap::new();
    let mut in_files = false;
    let mut not_a_target = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !in_files {
            in_files = line == "# Files";
            continue;
        }
        if line.starts_with("# Not a target:") {
            not_a_target = true;
            continue;
        }
        let definition = (!not_a_target && !line.starts_with('#') && !line.starts_with('\t'))
            .then(|| line.split_once(':'))
            .flatten()
            .filter(|(name, _)| !name.is_empty() && !name.contains('='));
        if let Some((name, rest)) = definition {
            let prerequisites = rest.trim_start_matches(':').trim();
            targets.insert(name.to_owned(), !prerequisites.is_empty());
            current = Some(name.to_owned());
        } else if let Some(target) = &current {
            if line.starts_with('#') {
                let comment = line.trim_start_matches('#').trim_start();
                if comment.starts_with("recipe to execute")
                    || comment.starts_with("commands to execute")
                {
                    targets.insert(target.clone(), true);
                }
            } else {
                current = None;
            }
        }
        not_a_target = false;
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_empty_and_busy_targets_from_makes_database() {
        let database = "# GNU Make 4.3\n# Variables\nX = 1\n# Files\n\n# Not a target:\ndebian/rules:\n\n\
override_dh_strip:\n#  Phony target (prerequisite of .PHONY).\n\n\
override_dh_shlibdeps:\n#  recipe to execute (from 'debian/rules', line 9):\n\tdh_shlibdeps\n\n\
build: build-arch\n\n%:\n";
        let targets = parse_make_database(database);
        assert_eq!(targets.get("override_dh_strip"), Some(&false));
        assert_eq!(targets.get("override_dh_shlibdeps"), Some(&true));
        assert_eq!(targets.get("build"), Some(&true));
        assert_eq!(targets.get("debian/rules"), None);
    }
}
