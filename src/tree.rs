//! The file-system primitives every stage shares, one copy of each: walking a tree in a stable order,
//! replacing a file atomically, and telling an ELF file and an executable one.
//!
//! [`walk`] lists a tree sorted by file name, so every build visits entries in the same order.
//! [`replace`] writes through a temporary file created exclusively beside the target and a rename,
//! keeping the mode: a file hard-linked to one outside the venv is never written through, the
//! temporary's name cannot be guessed and a symlink there is never followed, and a reader never sees
//! half a file. [`unshare`] breaks a file's hard links before something changes it in place.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

/// The suffix of every temporary file this crate creates beside a file it writes (by
/// [`write_temporary`], [`replace`], [`unshare`] and [`temporary_beside`]); their names are
/// `.<file name>.<random>.dh-rustvenv-tmp`, so that [`is_temporary`] tells them from anything else.
pub const TEMPORARY_SUFFIX: &str = ".dh-rustvenv-tmp";

/// How many random characters the name of a temporary file holds: with 62 possible characters
/// each, nobody can guess the name before it is created.
const RANDOM_CHARACTERS: usize = 12;

/// The longest part of a file's own name kept in the name of its temporary file, so that the
/// temporary's name stays within the 255 bytes of `NAME_MAX`.
const NAME_KEPT: usize = 200;

/// Whether `name` (a file name, not a path) is the name of a temporary file this crate creates:
/// it starts with `.` and ends with [`TEMPORARY_SUFFIX`] (and is longer than the suffix). A run
/// that was killed can leave one behind; sweeping them is how its leftovers are found.
pub fn is_temporary(name: &OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    bytes.len() > TEMPORARY_SUFFIX.len()
        && bytes.starts_with(b".")
        && bytes.ends_with(TEMPORARY_SUFFIX.as_bytes())
}

/// Creates an empty temporary file beside `path`, named `.<file name>.<random>.dh-rustvenv-tmp`,
/// exclusively (`O_CREAT|O_EXCL`: a file or symlink already at that name is never opened or
/// followed, and the name cannot be guessed in advance), with mode 0600. The file is removed when
/// the returned handle is dropped, unless it is kept (`into_temp_path().keep()`). This is how
/// output files of other programs (strip's and objcopy's `-o`) are made safe to write: the program
/// writes into this file, which is then renamed over `path`.
///
/// # Errors
/// When the file cannot be created; the message names the directory.
pub fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    create_temporary(path, None)
        .with_context(|| format!("creating a temporary file beside {}", path.display()))
}

/// The directory `path` is in: its parent, `.` for a bare file name.
fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The prefix of a temporary beside `path`: `.<file name, cut to NAME_KEPT bytes>.`.
fn temporary_prefix(path: &Path) -> Vec<u8> {
    let name = path.file_name().unwrap_or_default().as_encoded_bytes();
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(&name[..name.len().min(NAME_KEPT)]);
    prefix.push(b'.');
    prefix
}

/// A builder of temporaries named `<prefix><random>.dh-rustvenv-tmp`.
fn temporary_builder(prefix: &[u8]) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(OsStr::from_bytes(prefix))
        .suffix(TEMPORARY_SUFFIX)
        .rand_bytes(RANDOM_CHARACTERS);
    builder
}

/// [`temporary_beside`], created with `mode` (reduced by the umask, as open(2) does) instead of
/// 0600 when given.
fn create_temporary(path: &Path, mode: Option<u32>) -> std::io::Result<tempfile::NamedTempFile> {
    let prefix = temporary_prefix(path);
    let mut builder = temporary_builder(&prefix);
    if let Some(mode) = mode {
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    builder.tempfile_in(directory_of(path))
}

/// Creates a symlink to `target` at a new temporary name beside `path` (named as
/// [`temporary_beside`] names files; symlink(2) never follows or replaces what is at that name) and
/// returns the temporary's path, for the caller to rename over `path`.
///
/// # Errors
/// When the symlink cannot be created; the message names `path`.
pub fn symlink_temporary(path: &Path, target: &Path) -> Result<PathBuf> {
    let prefix = temporary_prefix(path);
    let made = temporary_builder(&prefix)
        .make_in(directory_of(path), |at| {
            std::os::unix::fs::symlink(target, at)
        })
        .and_then(|made| made.into_temp_path().keep().map_err(|e| e.error));
    made.with_context(|| format!("creating the symlink {}", path.display()))
}

/// Writes `content` to a new temporary file beside `path` and returns the temporary's path, without
/// renaming it: callers that commit several files all or nothing rename each once all are written
/// ([`replace`] is this and the rename). The temporary is created exclusively with an unpredictable
/// name ([`temporary_beside`]'s), so no symlink or file planted beside `path` is written through. It
/// gets the permission bits `path` has (set-id bits included) when `path` exists, else 0644 less the
/// umask.
///
/// # Errors
/// When `path`'s mode cannot be read, or the temporary cannot be created or written; the message
/// names `path`, and no temporary file is left behind.
pub fn write_temporary(path: &Path, content: &[u8]) -> Result<PathBuf> {
    let mode = match fs::symlink_metadata(path) {
        Ok(metadata) => Some(metadata.permissions().mode() & 0o7777),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let written = (|| -> std::io::Result<PathBuf> {
        // A new file: open(2) takes the umask off 0644. An existing file's mode is kept exactly, set
        // by fchmod(2) once the content is written (open(2)'s mode would lose the bits the umask
        // masks, and set-id bits have no business on a half-written file).
        let mut file = create_temporary(path, mode.is_none().then_some(NEW_FILE_MODE))?;
        file.write_all(content)?;
        if let Some(mode) = mode {
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))?;
        }
        // Dropped on an error above, the temporary is removed.
        file.into_temp_path().keep().map_err(|e| e.error)
    })();
    written.with_context(|| format!("writing {}", path.display()))
}

/// Writes `content` to `path`, atomically: [`write_temporary`] writes it to a new temporary file
/// beside `path`, which is then renamed over `path`. An existing `path` keeps its permission bits
/// (set-id bits included); a new one gets 0644 less the umask. A hard link `path` shared with another
/// file is thereby broken, not written through, and a reader sees the old content or the new, never
/// half.
///
/// # Errors
/// When the temporary file cannot be created, written or renamed; the message names `path`, and no
/// temporary file is left behind.
pub fn replace(path: &Path, content: &[u8]) -> Result<()> {
    let temporary = write_temporary(path, content)?;
    rename_or_remove(&temporary, path)
}

/// Renames `temporary` over `path`; when that fails, removes `temporary`.
fn rename_or_remove(temporary: &Path, path: &Path) -> Result<()> {
    fs::rename(temporary, path).or_else(|e| {
        let _ = fs::remove_file(temporary);
        Err(e).with_context(|| format!("writing {}", path.display()))
    })
}

/// Breaks the hard links of the regular file `path`: when it has more than one (`st_nlink` > 1),
/// it is copied to a temporary file beside it ([`temporary_beside`]) with its permission bits (set-id
/// bits included), which is renamed over it. Any change made in place afterwards (a chmod, a tool that
/// rewrites the file where it is) then reaches this file only, never the other names of its inode,
/// which may lie outside the package build directory (an installer's cache, the source tree). Call it
/// before every change in place of a file in the venv. A file with one link, a symlink, a directory
/// or a missing path are left alone.
///
/// # Errors
/// When the file cannot be read, copied or renamed; the message names it, and no temporary file is
/// left behind.
pub fn unshare(path: &Path) -> Result<()> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if !metadata.is_file() || metadata.nlink() <= 1 {
        return Ok(());
    }
    let copied = (|| -> std::io::Result<PathBuf> {
        let mut source = fs::File::open(path)?;
        let mut file = create_temporary(path, None)?;
        std::io::copy(&mut source, &mut file)?;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(metadata.mode() & 0o7777))?;
        file.into_temp_path().keep().map_err(|e| e.error)
    })();
    let temporary =
        copied.with_context(|| format!("copying {} to break its hard links", path.display()))?;
    rename_or_remove(&temporary, path)
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

/// Removes the file, symlink or directory tree at `path`, if there is one (a symlink is removed, never
/// followed).
///
/// # Errors
/// When it cannot be read or removed; the message names it.
pub fn remove_if_there(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
        }
        Ok(_) => fs::remove_file(path).with_context(|| format!("removing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
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

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_symlink_at_the_old_predictable_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me\n").unwrap();
        let target = dir.path().join("substvars");
        // The name the temporary file had before it was unpredictable.
        let planted = dir.path().join("substvars.dh-rustvenv-new");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        replace(&target, b"misc:Depends=python3.11\n").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "misc:Depends=python3.11\n"
        );
        assert_eq!(
            names(dir.path()),
            ["substvars", "substvars.dh-rustvenv-new", "victim"],
            "a temporary file was left behind"
        );
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077 & !0o044,
            0,
            "a new file is not group/other writable"
        );
    }

    #[test]
    fn a_temporary_is_new_unpredictable_and_recognized() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("RECORD");
        fs::write(&target, "old\n").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        let first = write_temporary(&target, b"new\n").unwrap();
        let second = write_temporary(&target, b"new\n").unwrap();
        assert_ne!(first, second);
        for temporary in [&first, &second] {
            assert_eq!(temporary.parent(), Some(dir.path()));
            let name = temporary.file_name().unwrap();
            assert!(is_temporary(name), "{name:?}");
            let name = name.to_str().unwrap();
            assert!(name.starts_with(".RECORD."), "{name}");
            let random = &name[".RECORD.".len()..name.len() - TEMPORARY_SUFFIX.len()];
            assert_eq!(random.len(), RANDOM_CHARACTERS, "{name}");
            assert_eq!(fs::read_to_string(temporary).unwrap(), "new\n");
            let mode = fs::metadata(temporary).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o640);
        }
        // Not renamed: the target is as it was.
        assert_eq!(fs::read_to_string(&target).unwrap(), "old\n");
        assert!(!is_temporary(OsStr::new("RECORD")));
        assert!(!is_temporary(OsStr::new("RECORD.dh-rustvenv-tmp")));
        assert!(!is_temporary(OsStr::new(TEMPORARY_SUFFIX)));
        assert!(!is_temporary(OsStr::new(".RECORD.abc")));
        // A name too long to take whole still gives a temporary beside it.
        let long = dir.path().join("x".repeat(250));
        replace(&long, b"long\n").unwrap();
        assert_eq!(fs::read_to_string(&long).unwrap(), "long\n");
        // Nothing is left behind when the directory does not exist.
        assert!(write_temporary(&dir.path().join("missing/file"), b"x").is_err());
    }

    #[test]
    fn unshare_breaks_hard_links_keeping_content_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o4755)).unwrap();
        let inside = dir.path().join("inside");
        fs::hard_link(&outside, &inside).unwrap();
        unshare(&inside).unwrap();
        assert_eq!(fs::metadata(&outside).unwrap().nlink(), 1);
        assert_eq!(fs::metadata(&inside).unwrap().nlink(), 1);
        assert_eq!(fs::read_to_string(&inside).unwrap(), "#!/bin/sh\n");
        assert_eq!(fs::metadata(&inside).unwrap().mode() & 0o7777, 0o4755);
        // A change in place now reaches the inside file only.
        fs::set_permissions(&inside, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(fs::metadata(&outside).unwrap().mode() & 0o7777, 0o4755);
        // A file with one link keeps its inode; a missing path and a symlink are left alone.
        let inode = fs::metadata(&inside).unwrap().ino();
        unshare(&inside).unwrap();
        assert_eq!(fs::metadata(&inside).unwrap().ino(), inode);
        unshare(&dir.path().join("missing")).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        unshare(&link).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(names(dir.path()), ["inside", "link", "outside"]);
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
