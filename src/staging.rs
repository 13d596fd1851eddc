//! The staging transaction: a venv is built into the package build directory all or nothing.
//!
//! [`StagingDir`] prepares the venv's directory (an earlier run's venv removed, files put there
//! before dh_rustvenv ran moved aside), puts those files back once the venv is installed, and on
//! failure or interrupt leaves the directory exactly as it found it: the venv and the directories
//! created for it removed, the debug files written for the -dbgsym package removed, the earlier
//! files back in place.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The staging directory of a venv being built: removed again, with the directories created for it,
/// unless [`StagingDir::keep`] is called. What was in the directory before (files dh_install or an
/// override target put there) is moved aside while the venv is created and installed, then moved back
/// ([`StagingDir::restore_preexisting`]); on failure it is put back as it was.
pub struct StagingDir {
    root: PathBuf,
    created: Vec<PathBuf>,
    /// Where the earlier content waits while pip runs, when there was any.
    aside: Option<PathBuf>,
    /// Files outside the venv written for it (debug files for the -dbgsym package).
    pub outside: Vec<PathBuf>,
    keep: bool,
}

impl StagingDir {
    /// Prepares `root` for a new venv: a venv left there by an earlier run is removed; any other content
    /// is moved to `work_dir/preexisting` until the venv is installed.
    pub fn create(root: &Path, work_dir: &Path) -> Result<StagingDir> {
        let mut aside = None;
        if fs::symlink_metadata(root).is_ok() {
            if root.join("pyvenv.cfg").is_file() {
                fs::remove_dir_all(root)
                    .with_context(|| format!("removing the earlier venv {}", root.display()))?;
            } else if !root.is_dir() || root.is_symlink() {
                bail!(
                    "{} is in the way of the venv: it is not a directory (a file or a symlink put there \
                     before dh_rustvenv ran, by dh_install, dh_link or an override target); install it \
                     elsewhere, or choose another place for the venv with --install-suffix",
                    root.display()
                );
            } else {
                let place = work_dir.join("preexisting");
                if fs::symlink_metadata(&place).is_ok() {
                    fs::remove_dir_all(&place)
                        .with_context(|| format!("removing {}", place.display()))?;
                }
                fs::create_dir_all(work_dir)
                    .with_context(|| format!("creating {}", work_dir.display()))?;
                fs::rename(root, &place).with_context(|| {
                    format!("moving {} aside to {}", root.display(), place.display())
                })?;
                aside = Some(place);
            }
        }
        let mut created = Vec::new();
        let mut dir = root;
        while !dir.exists() {
            created.push(dir.to_path_buf());
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
        Ok(StagingDir {
            root: root.to_path_buf(),
            created,
            aside,
            outside: Vec::new(),
            keep: false,
        })
    }

    /// Moves the earlier content back into the installed venv.
    ///
    /// # Errors
    /// When pip installed a file where an earlier one stood: the message names both, and the
    /// distribution that installed it.
    pub fn restore_preexisting(&mut self) -> Result<()> {
        let Some(aside) = &self.aside else {
            return Ok(());
        };
        if let Some(path) = collisions(aside, &self.root)?.first() {
            let relative = path.strip_prefix(&self.root).unwrap_or(path);
            let owner = installed_by(&self.root, path)
                .map(|d| format!(" (from the distribution {d})"))
                .unwrap_or_default();
            bail!(
                "{} was in the venv directory before the venv was created (put there by dh_install or an \
                 earlier override target), and pip installed {}{owner} at the same place; install your file \
                 under another name, or after dh_rustvenv (in an override_dh_rustvenv target)",
                aside.join(relative).display(),
                path.display(),
            );
        }
        merge_tree(aside, &self.root)?;
        let _ = fs::remove_dir_all(aside);
        self.aside = None;
        Ok(())
    }

    /// Keeps the venv: dropping the staging directory no longer removes it.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

/// The entries of the tree `to` that an entry of the tree `from` would replace if the two were merged
/// (a directory merges with a directory; anything else collides).
fn collisions(from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in crate::tree::walk(from).skip(1) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = to.join(relative);
        let collides = fs::symlink_metadata(&target)
            .is_ok_and(|existing| !(entry.file_type().is_dir() && existing.is_dir()));
        if collides {
            found.push(target);
        }
    }
    Ok(found)
}

/// Moves every entry of the tree `from` into the tree `to`, merging directories; [`collisions`] must
/// have found none.
fn merge_tree(from: &Path, to: &Path) -> Result<()> {
    let entries: Vec<_> = fs::read_dir(from)
        .with_context(|| format!("reading {}", from.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let source = entry.path();
        let target = to.join(entry.file_name());
        if fs::symlink_metadata(&target).is_ok() {
            merge_tree(&source, &target)?;
        } else {
            fs::rename(&source, &target)
                .with_context(|| format!("moving {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

/// The name of the installed distribution whose RECORD lists `path` (PEP 376), if any.
fn installed_by(venv: &Path, path: &Path) -> Option<String> {
    let lib = venv.join("lib");
    for entry in crate::tree::walk(&lib).filter_map(|e| e.ok()) {
        let record = entry.path();
        if record.file_name().is_none_or(|n| n != "RECORD") {
            continue;
        }
        let dist_info = record.parent()?;
        let base = dist_info.parent()?;
        if crate::record::lists(record, base, path).unwrap_or(false) {
            let name = dist_info.file_name()?.to_string_lossy();
            return Some(name.trim_end_matches(".dist-info").to_owned());
        }
    }
    None
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = fs::remove_dir_all(&self.root);
        crate::elf::remove_debug_files(&self.outside);
        if let Some(aside) = &self.aside {
            // The earlier content goes back as it was.
            let _ = fs::rename(aside, &self.root);
            return;
        }
        for dir in &self.created {
            // Only directories this run created, and only while they are empty.
            let _ = fs::remove_dir(dir);
        }
    }
}
