//! The file-system primitives every stage shares, one copy of each: walking a tree in a stable order,
//! replacing a file atomically, and telling an ELF file and an executable one.
//!
//! [`walk`] lists a tree sorted by file name, so every build visits entries in the same order.
//! [`replace`] writes through a temporary file created exclusively beside the target and a rename,
//! keeping the mode: a file hard-linked to one outside the venv is never written through, a symlink
//! at the temporary name is never followed, and a reader never sees half a file.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

/// The first four bytes of every ELF file (the ELF specification's `EI_MAG0`..`EI_MAG3`).
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// The mode a file written by [`replace`] gets when it did not exist before (before the umask).
const NEW_FILE_MODE: u32 = 0o644;

/// The entries under `root` (itself first), sorted by file name; symlinks are not followed.
pub fn walk(root: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(root).sort_by_file_name().into_iter()
}

/// Whether `content` (a file's first bytes or all of it) starts with the ELF magic number.
pub fn is_elf(content: &[u8]) -> bool {
    content.starts_with(ELF_MAGIC)
}

/// Whether the regular file `path` starts with the ELF magic number; false when it cannot be read.
pub fn is_elf_file(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| is_elf(&magic))
}

/// Whether a file of this mode (`st_mode`, or its permission bits) is executable by anyone.
pub fn is_executable(mode: u32) -> bool {
    mode & 0o111 != 0
}

/// Writes `content` to `path`, atomically: the bytes go to `<path>.dh-rustvenv-new`, created
/// exclusively (a symlink or file left at that name by an interrupted run is removed first, never
/// followed), which is then renamed over `path`. An existing `path` keeps its permission bits (set-id
/// bits included); a new one gets 0644 less the umask. A hard link `path` shared with another file is
/// thereby broken, not written through, and a reader sees the old content or the new, never half.
///
/// # Errors
/// When the temporary file cannot be created, written or renamed; the message names `path`, and no
/// temporary file is left behind.
pub fn replace(path: &Path, content: &[u8]) -> Result<()> {
    let mode = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let temporary = temporary_name(path);
    let written = (|| -> std::io::Result<()> {
        match fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(content)?;
        // The mode given to open() is reduced by the umask; an existing file's is kept exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// A file's text, or "" when it does not exist yet: how the files debhelper appends to (substvars,
/// `<script>.debhelper` snippets) are read.
pub fn read_or_empty(path: &Path) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Resolves `.` and `..` components and drops trailing slashes, without touching the file system
/// (symlinks are not followed: `a/b/..` is `a`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The temporary name [`replace`] writes `path` through.
fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".dh-rustvenv-new");
    path.with_file_name(name)
}

/// The suffix of every temporary file a run creates beside a file it writes.
pub const TEMPORARY_SUFFIX: &str = ".dh-rustvenv-tmp";

/// Whether a file name is one of a run's temporaries (`.<name>.<random>.dh-rustvenv-tmp`).
pub fn is_temporary(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".") && name.ends_with(TEMPORARY_SUFFIX.as_bytes())
}

/// Writes `content` to a new temporary beside `path`, created exclusively under an unpredictable name,
/// with the mode `path` has (0644 less the umask when it does not exist), and returns its path;
/// nothing is renamed.
///
/// # Errors
/// When it cannot be created or written; the message names `path`, and nothing is left.
pub fn write_temporary(path: &Path, content: &[u8]) -> Result<PathBuf> {
    let mode = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    let mut file = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMPORARY_SUFFIX)
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(content)
        .and_then(|()| {
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))
        })
        .with_context(|| format!("writing {}", path.display()))?;
    file.into_temp_path()
        .keep()
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_a_hard_linked_file_leaves_the_other_link_alone_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "/build/demo\n").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o750)).unwrap();
        let inside = dir.path().join("inside");
        fs::hard_link(&outside, &inside).unwrap();
        replace(&inside, b"/opt/venvs/demo\n").unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "/build/demo\n");
        assert_eq!(fs::read_to_string(&inside).unwrap(), "/opt/venvs/demo\n");
        let mode = fs::metadata(&inside).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
    }

    #[test]
    fn a_symlink_at_the_temporary_name_is_removed_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me\n").unwrap();
        let target = dir.path().join("substvars");
        std::os::unix::fs::symlink(&victim, temporary_name(&target)).unwrap();
        replace(&target, b"misc:Depends=python3.11\n").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "misc:Depends=python3.11\n"
        );
        assert!(fs::symlink_metadata(temporary_name(&target)).is_err());
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077 & !0o044,
            0,
            "a new file is not group/other writable"
        );
    }

    #[test]
    fn elf_and_executable_checks() {
        assert!(is_elf(b"\x7fELF\x02\x01"));
        assert!(!is_elf(b"\x7fEL"));
        assert!(!is_elf(b"#!/bin/sh\n"));
        assert!(is_executable(0o100755));
        assert!(is_executable(0o010));
        assert!(!is_executable(0o100644));
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        fs::write(&short, b"\x7fE").unwrap();
        assert!(!is_elf_file(&short));
        assert!(!is_elf_file(&dir.path().join("missing")));
    }
}
