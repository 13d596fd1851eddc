//! Running a command in the source tree and removing what it left there (setuptools' `build/` and
//! `*.egg-info`, what tests write), without ever touching what was there before.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::command::Command;
use crate::debhelper::Reporter;
use crate::layout::Layout;

/// Runs `command` as [`Reporter::doit`] does, then removes what it left in the source tree `dir`
/// (setuptools' `build/` and `*.egg-info`, what tests write). Returns the command's own result.
/// The package build directory and dh_rustvenv's work directory are never taken for residue, even
/// when `-P` puts the package build directory inside the source tree.
///
/// # Errors
/// The outer error: what it left cannot be removed.
pub(super) fn doit_without_residue(
    reporter: &Reporter,
    command: &Command,
    dir: &Path,
    layout: &Layout,
) -> Result<Result<()>> {
    let protected = [layout.staging_root.as_path(), layout.work_dir.as_path()];
    let before = source_tree_entries(dir, &protected);
    let result = reporter.doit(command);
    if !reporter.no_act {
        remove_build_residue(dir, &before, &protected)
            .context("removing what the build left in the source tree")?;
    }
    Ok(result)
}

/// Every path in the source tree outside `debian/`, version-control directories and the `protected`
/// directories (and their parents).
pub(crate) fn source_tree_entries(project: &Path, protected: &[&Path]) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(project)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            let packaging = e.depth() == 1 && name == "debian";
            let version_control = matches!(name.as_ref(), ".git" | ".pc" | ".hg" | ".svn");
            let ours = protected
                .iter()
                .any(|p| p.starts_with(e.path()) || e.path().starts_with(p));
            !packaging && !version_control && !ours
        })
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .collect()
}

/// Removes what appeared in the source tree while the source package was built: the top-most new
/// entries only, nothing that was there before.
pub(crate) fn remove_build_residue(
    project: &Path,
    before: &BTreeSet<PathBuf>,
    protected: &[&Path],
) -> Result<()> {
    let after = source_tree_entries(project, protected);
    for path in after.difference(before) {
        let parent_is_new = path
            .parent()
            .is_some_and(|parent| parent != project && !before.contains(parent));
        if parent_is_new {
            continue;
        }
        let removed = if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_residue_is_removed_and_what_was_there_stays() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/demo")).unwrap();
        fs::create_dir_all(root.join("debian")).unwrap();
        // -P pkgroot: the package build directory is inside the source tree.
        let staging = root.join("pkgroot/opt/venvs/demo");
        let protected = [staging.as_path()];
        let before = source_tree_entries(root, &protected);
        fs::create_dir_all(root.join("build/lib/demo")).unwrap();
        fs::create_dir_all(root.join("src/demo.egg-info")).unwrap();
        fs::write(root.join("src/demo.egg-info/PKG-INFO"), "x").unwrap();
        fs::write(root.join("debian/new-file"), "kept").unwrap();
        fs::create_dir_all(staging.join("lib/python3.11/site-packages/demo")).unwrap();
        fs::create_dir_all(root.join("pkgroot/usr/share/doc")).unwrap();
        remove_build_residue(root, &before, &protected).unwrap();
        assert!(!root.join("build").exists());
        assert!(!root.join("src/demo.egg-info").exists());
        assert!(root.join("src/demo").is_dir());
        assert!(root.join("debian/new-file").exists());
        assert!(staging.join("lib/python3.11/site-packages/demo").is_dir());
        assert!(root.join("pkgroot/usr/share/doc").is_dir());
    }
}
