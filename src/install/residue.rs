//! Running a command in the source tree and removing the build residue it left there: what build
//! backends and the interpreter write in an in-tree build ([`is_build_residue`]), nothing else, and
//! never what was there before.
//!
//! What a build writes in the project's directory, by backend, from pip's in-tree PEP 517 builds (pip
//! 21.3 and later build a local project where it is, and put the wheel in a temporary directory):
//! setuptools writes `build/` and, when it needs them, `.eggs/` (setup_requires) at the top, and a
//! `<name>.egg-info` directory next to the packages (the top, or `src/` in a src layout); flit_core,
//! hatchling and poetry-core write nothing there; pdm-backend writes `.pdm-build/`; meson-python a
//! `.mesonpy-<random>` build directory at the top (as read from its documentation; not checked here);
//! maturin cargo's `target/` next to `Cargo.toml`. Every Python process that imports the project's
//! modules (a `setup.py` reading its version, the tests) writes `__pycache__` directories.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::command::Command;
use crate::debhelper::Reporter;
use crate::layout::Layout;

/// Runs `command` as [`Reporter::doit`] does, then removes the build residue it left in the source
/// tree `dir` ([`remove_build_residue`]). Returns the command's own result. For the installer that is
/// what the build backend wrote; for a test command, the bytecode and build residue of what it ran,
/// while a file the tests wrote themselves (a report, say) is theirs and stays.
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

/// Removes the build residue that appeared in the source tree `project` since `before` (what
/// [`source_tree_entries`] returned before the command ran): each new entry that
/// [`is_build_residue`] names, whole, and nothing else. A new file a test or the user's own tool wrote
/// at the same time stays, and so does everything that was there before, a pre-existing `build/`
/// too, though what was added inside it goes.
///
/// # Errors
/// When a residue entry cannot be removed; the message names it.
pub(crate) fn remove_build_residue(
    project: &Path,
    before: &BTreeSet<PathBuf>,
    protected: &[&Path],
) -> Result<()> {
    let after = source_tree_entries(project, protected);
    let rust_project = project.join("Cargo.toml").is_file();
    let mut removed: Vec<&Path> = Vec::new();
    // Sorted, so a directory comes before what is in it, and is removed with it.
    for path in after.difference(before) {
        if removed.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        let Ok(relative) = path.strip_prefix(project) else {
            continue;
        };
        if !is_build_residue(relative, rust_project) {
            continue;
        }
        let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        let result = if is_dir {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match result {
            Ok(()) => {}
            // Removed by the command itself since the walk: nothing left to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        removed.push(path);
    }
    Ok(())
}

/// Whether the path `relative` (to the project's directory) is build residue, or inside some: a
/// component named `__pycache__` or `<name>.egg-info` anywhere, or a first component named `build`,
/// `.eggs`, `.pdm-build` or `.mesonpy-<anything>`, or `target` when the project is a Rust one
/// (`rust_project`: it has a `Cargo.toml`, as maturin's projects do). The module's documentation
/// says which backend writes which.
pub(crate) fn is_build_residue(relative: &Path, rust_project: bool) -> bool {
    relative.components().enumerate().any(|(depth, component)| {
        let name = component.as_os_str().to_string_lossy();
        let anywhere = name == "__pycache__" || (name.ends_with(".egg-info") && name.len() > 9);
        let at_top = depth == 0
            && (matches!(name.as_ref(), "build" | ".eggs" | ".pdm-build")
                || name.starts_with(".mesonpy-")
                || (rust_project && name == "target"));
        anywhere || at_top
    })
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

    #[test]
    fn only_build_residue_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/demo")).unwrap();
        fs::write(root.join("src/demo/__init__.py"), "").unwrap();
        fs::create_dir_all(root.join("docs")).unwrap();
        // What was there before stays, whatever its name.
        fs::create_dir_all(root.join("build/scripts")).unwrap();
        fs::write(root.join("build/scripts/release.sh"), "kept").unwrap();
        fs::create_dir_all(root.join("old.egg-info")).unwrap();
        fs::create_dir_all(root.join("src/demo/__pycache__")).unwrap();
        fs::write(root.join("src/demo/__pycache__/kept.pyc"), "kept").unwrap();
        let before = source_tree_entries(root, &[]);

        // What the build backend writes.
        fs::create_dir_all(root.join("build/lib/demo")).unwrap();
        fs::write(root.join("build/lib/demo/__init__.py"), "").unwrap();
        fs::create_dir_all(root.join("src/demo.egg-info")).unwrap();
        fs::write(root.join("src/demo.egg-info/PKG-INFO"), "x").unwrap();
        fs::create_dir_all(root.join("demo.egg-info")).unwrap();
        fs::create_dir_all(root.join(".eggs/setuptools_scm-8.0.egg")).unwrap();
        fs::write(root.join("src/demo/__pycache__/new.pyc"), "x").unwrap();
        fs::create_dir_all(root.join("docs/__pycache__")).unwrap();
        // What a test or the user's tool writes at the same time.
        fs::write(root.join("test-results.xml"), "kept").unwrap();
        fs::create_dir_all(root.join("out/reports")).unwrap();
        fs::write(root.join("docs/generated.rst"), "kept").unwrap();
        fs::create_dir_all(root.join("target")).unwrap();

        remove_build_residue(root, &before, &[]).unwrap();
        for gone in [
            "build/lib",
            "src/demo.egg-info",
            "demo.egg-info",
            ".eggs",
            "src/demo/__pycache__/new.pyc",
            "docs/__pycache__",
        ] {
            assert!(!root.join(gone).exists(), "{gone} is left");
        }
        for kept in [
            "build/scripts/release.sh",
            "old.egg-info",
            "src/demo/__pycache__/kept.pyc",
            "src/demo/__init__.py",
            "test-results.xml",
            "out/reports",
            "docs/generated.rst",
            // Not a Rust project: target/ is not maturin's.
            "target",
        ] {
            assert!(root.join(kept).exists(), "{kept} was removed");
        }
    }

    #[test]
    fn residue_is_named_by_backend_conventions() {
        let residue = |p: &str| is_build_residue(Path::new(p), false);
        assert!(residue("build"));
        assert!(residue("build/lib/demo/__init__.py"));
        assert!(residue("src/demo.egg-info"));
        assert!(residue("src/demo/__pycache__"));
        assert!(residue(".pdm-build"));
        assert!(residue(".mesonpy-x1y2z3"));
        assert!(!residue("docs/build"));
        assert!(!residue("target"));
        assert!(is_build_residue(Path::new("target"), true));
        assert!(!residue(".egg-info"));
        assert!(!residue("notes.txt"));
        assert!(!residue("src/demo/builder.py"));
    }
}
