//! Where a venv may be built: never through a symlink out of the package build directory, never in a
//! package build directory outside the source package unless it was given, never in a system
//! directory.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Directories a package build directory may never be, nor be directly inside: wiping a venv there
/// would wipe the system's.
const SYSTEM_PARENTS: &[&str] = &[
    "/",
    "/usr",
    "/usr/local",
    "/usr/lib",
    "/usr/share",
    "/var",
    "/var/lib",
    "/etc",
    "/opt",
    "/home",
    "/srv",
    "/lib",
    "/boot",
];

/// Refuses a venv directory `root` that would take the run out of the package tree: its real path
/// (symlinks resolved) must be inside the package build directory `build_dir`; that must be inside
/// the source package `top` unless it was given explicitly (`-P`), and never `/` or a system
/// directory (`/usr`, `/opt`, `/var/lib`, …) or directly inside one.
///
/// # Errors
/// The one it breaks, naming the directory and the symlink's real path.
pub fn check_place(root: &Path, build_dir: &Path, top: &Path, explicit: bool) -> Result<()> {
    let build_real = real_path(build_dir);
    let system = SYSTEM_PARENTS
        .iter()
        .map(Path::new)
        .any(|dir| build_real == dir || build_real.parent() == Some(dir));
    if system {
        bail!(
            "the package build directory {} is {}, a system directory: dh_rustvenv builds the venv \
             there and would remove one it finds; give -P a directory of its own inside the source \
             package",
            build_dir.display(),
            build_real.display()
        );
    }
    let top_real = real_path(top);
    if !explicit && !build_real.starts_with(&top_real) {
        bail!(
            "the package build directory {} leads out of the source package {} (its real path is {}, \
             through a symlink); remove the symlink, or give the directory with -P if it is meant",
            build_dir.display(),
            top.display(),
            build_real.display()
        );
    }
    let root_real = real_path(root);
    if !root_real.starts_with(&build_real) || root_real == build_real {
        bail!(
            "the venv directory {} leads out of the package build directory {} (its real path is {}, \
             through a symlink on the way); dh_rustvenv removes and rebuilds what is there, so it \
             refuses: remove the symlink (dh_link's links belong after dh_rustvenv)",
            root.display(),
            build_dir.display(),
            root_real.display()
        );
    }
    Ok(())
}

/// `path` with symlinks resolved as far as it exists, and the rest appended as written.
fn real_path(path: &Path) -> PathBuf {
    let path = crate::tree::normalize(path);
    for existing in path.ancestors() {
        if let Ok(real) = fs::canonicalize(existing) {
            let rest = path.strip_prefix(existing).unwrap_or(Path::new(""));
            return crate::tree::normalize(&real.join(rest));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venv_directory_leading_out_of_the_package_tree_is_refused() {
        let f = super::super::tests::fixture();
        let outside = f._dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        let build = f.top.join("debian/demo");
        check_place(&f.root, &build, &f.top, false).unwrap();
        fs::remove_dir_all(build.join("opt")).unwrap();
        std::os::unix::fs::symlink(&outside, build.join("opt")).unwrap();
        let error = check_place(&f.root, &build, &f.top, false).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("leads out of the package build directory")
        );
        let error =
            check_place(Path::new("/opt/venvs/demo"), Path::new("/"), &f.top, true).unwrap_err();
        assert!(error.to_string().contains("a system directory"), "{error}");
        assert!(
            check_place(
                Path::new("/usr/x/opt/venvs/d"),
                Path::new("/usr/x"),
                &f.top,
                true
            )
            .is_err()
        );
        let elsewhere = outside.join("pkg");
        assert!(check_place(&elsewhere.join("opt/venvs/d"), &elsewhere, &f.top, false).is_err());
        check_place(&elsewhere.join("opt/venvs/d"), &elsewhere, &f.top, true).unwrap();
    }
}
