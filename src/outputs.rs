//! The files a run writes outside the venv (substvars, maintainer-script snippets, lintian overrides,
//! the build-ids of the -dbgsym package, the state), committed all or nothing.
//!
//! [`Outputs`] collects each file's new content in memory; a later change to the same file reads what
//! an earlier one put there ([`Outputs::read`]). [`Outputs::stage`] writes every file to a temporary
//! beside its target, and only when all are written does [`Staged::commit`] rename them into place.
//! A full disk or any other failure while staging leaves every target as it was, and removes the
//! temporaries and the directories made for them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// What one output becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file with these bytes (its mode kept when it exists, else 0644 less the umask).
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(PathBuf),
}

/// The outputs of one run, by absolute path, not yet written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    entries: BTreeMap<PathBuf, Content>,
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// The text of `path` as the outputs leave it: what was put there earlier in this run, else the
    /// file on disk, else "" (the files debhelper appends to need not exist yet).
    ///
    /// # Errors
    /// When the file exists but cannot be read; the message names it.
    pub fn read(&self, path: &Path) -> Result<String> {
        match self.entries.get(path) {
            Some(Content::File(bytes)) => Ok(String::from_utf8_lossy(bytes).into_owned()),
            Some(Content::Symlink(_)) => Ok(String::new()),
            None => crate::tree::read_or_empty(path),
        }
    }

    /// Sets the new content of the file `path`.
    pub fn write(&mut self, path: PathBuf, content: impl Into<Vec<u8>>) {
        self.entries.insert(path, Content::File(content.into()));
    }

    /// Makes `path` a symlink to `target`.
    pub fn symlink(&mut self, path: PathBuf, target: PathBuf) {
        self.entries.insert(path, Content::Symlink(target));
    }

    /// The paths the outputs write, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.entries.keys().map(PathBuf::as_path)
    }

    /// Writes every output to a temporary file (or symlink) beside its target, creating the
    /// directories that are missing; no target is changed yet.
    ///
    /// # Errors
    /// When a directory or a temporary cannot be created or written (a full disk): the message names
    /// the target, and the temporaries and directories made so far are removed again.
    pub fn stage(self) -> Result<Staged> {
        let mut staged = Staged::default();
        for (target, content) in self.entries {
            let parent = target.parent().unwrap_or(Path::new("/")).to_path_buf();
            let mut missing = Vec::new();
            for dir in parent.ancestors() {
                if fs::symlink_metadata(dir).is_ok() {
                    break;
                }
                missing.push(dir.to_path_buf());
            }
            for dir in missing.iter().rev() {
                fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
                staged.created_dirs.push(dir.clone());
            }
            let temporary = match &content {
                Content::File(bytes) => crate::tree::write_temporary(&target, bytes)?,
                Content::Symlink(to) => crate::tree::symlink_temporary(&target, to)?,
            };
            staged.pairs.push((temporary, target));
        }
        Ok(staged)
    }
}

/// Outputs written to temporaries, waiting for [`Staged::commit`]; dropped without it, the
/// temporaries and the directories made for them are removed.
#[derive(Debug, Default)]
pub struct Staged {
    pairs: Vec<(PathBuf, PathBuf)>,
    created_dirs: Vec<PathBuf>,
}

impl Staged {
    /// The (temporary, target) pairs, in the order they are renamed.
    pub fn pairs(&self) -> &[(PathBuf, PathBuf)] {
        &self.pairs
    }

    /// Renames every temporary over its target.
    ///
    /// # Errors
    /// When a rename fails (not for lack of space: a rename needs none); the message names the target.
    /// The outputs renamed before it stay; the rest are removed.
    pub fn commit(mut self) -> Result<()> {
        let pairs = std::mem::take(&mut self.pairs);
        self.created_dirs.clear();
        let mut result = Ok(());
        for (temporary, target) in pairs {
            if result.is_ok() {
                result = fs::rename(&temporary, &target)
                    .with_context(|| format!("writing {}", target.display()));
            }
            if result.is_err() {
                let _ = fs::remove_file(&temporary);
            }
        }
        result
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (temporary, _) in &self.pairs {
            let _ = fs::remove_file(temporary);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_changes_read_earlier_ones_and_nothing_is_written_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let substvars = dir.path().join("demo.substvars");
        fs::write(&substvars, "misc:Depends=adduser\n").unwrap();
        let mut outputs = Outputs::new();
        let text = outputs.read(&substvars).unwrap() + "rustvenv:Depends=python3.11\n";
        outputs.write(substvars.clone(), text);
        assert_eq!(
            outputs.read(&substvars).unwrap(),
            "misc:Depends=adduser\nrustvenv:Depends=python3.11\n"
        );
        let overrides = dir.path().join("demo/usr/share/lintian/overrides/demo");
        outputs.write(overrides.clone(), "demo: tag\n");
        outputs.symlink(dir.path().join("link"), PathBuf::from("demo"));
        let staged = outputs.stage().unwrap();
        assert_eq!(staged.pairs().len(), 3);
        assert_eq!(
            fs::read_to_string(&substvars).unwrap(),
            "misc:Depends=adduser\n"
        );
        assert!(!overrides.exists());
        staged.commit().unwrap();
        assert_eq!(
            fs::read_to_string(&substvars).unwrap(),
            "misc:Depends=adduser\nrustvenv:Depends=python3.11\n"
        );
        assert_eq!(fs::read_to_string(&overrides).unwrap(), "demo: tag\n");
        assert_eq!(
            fs::read_link(dir.path().join("link")).unwrap(),
            Path::new("demo")
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !crate::tree::is_temporary(n)),
            "{names:?}"
        );
    }

    #[test]
    fn a_failure_while_staging_changes_no_target_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let substvars = dir.path().join("demo.substvars");
        fs::write(&substvars, "misc:Depends=adduser\n").unwrap();
        let mut outputs = Outputs::new();
        outputs.write(substvars.clone(), "rustvenv:Depends=python3.11\n");
        outputs.write(dir.path().join("new/dir/state.json"), "{}\n");
        // A target whose directory cannot be made: a file stands where the directory would go.
        fs::write(dir.path().join("blocked"), "").unwrap();
        outputs.write(dir.path().join("blocked/overrides"), "x\n");
        assert!(outputs.stage().is_err());
        assert_eq!(
            fs::read_to_string(&substvars).unwrap(),
            "misc:Depends=adduser\n"
        );
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["blocked", "demo.substvars"]);
    }
}
