//! The file operations of the transaction: moving and copying the venv directory (across file
//! systems too), removing what a run added, and finding what pip installed over an earlier file.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::command::Command;

/// The entries under `dir` (relative to it, sorted): what the -dbgsym package's directory holds.
pub(super) fn listing(dir: &Path) -> Vec<PathBuf> {
    crate::tree::walk(dir)
        .skip(1)
        .filter_map(|e| e.ok())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect()
}

/// Removes what was added under `dir` since it held `before` (debug files, objcopy's temporaries),
/// and the directories that were made for them.
pub(super) fn remove_debug_files_since(dir: &Path, before: &[PathBuf]) {
    let before: std::collections::BTreeSet<&PathBuf> = before.iter().collect();
    // Deepest first, so that a directory is empty when it is reached.
    for relative in listing(dir).into_iter().rev() {
        if before.contains(&relative) {
            continue;
        }
        let path = dir.join(&relative);
        if path.is_dir() && !path.is_symlink() {
            let _ = fs::remove_dir(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Removes the temporaries a run left directly in `dir` ([`crate::tree::is_temporary`]).
pub(super) fn remove_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        if crate::tree::is_temporary(&entry.file_name()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Where [`move_dir`] and [`copy_dir`] copy to before the copy is complete: `.<name>.dh-rustvenv-partial`
/// beside `to`.
pub(super) fn partial_name(to: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(to.file_name().unwrap_or_default());
    name.push(".dh-rustvenv-partial");
    to.with_file_name(name)
}

/// Moves the directory `from` to `to` (which must not exist): a rename, or when they are on different
/// file systems, a copy that is renamed into place once complete, then `from` removed.
pub(super) fn move_dir(from: &Path, to: &Path) -> Result<()> {
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EXDEV as i32) => {
            copy_dir(from, to, false)?;
            fs::remove_dir_all(from).with_context(|| format!("removing {}", from.display()))
        }
        Err(e) => Err(e).with_context(|| format!("moving {} to {}", from.display(), to.display())),
    }
}

/// Copies the directory `from` to `to` (which must not exist), with `cp -a`: out of hard links when
/// `link` (falling back to a copy across file systems), through a partial copy renamed into place.
pub(super) fn copy_dir(from: &Path, to: &Path, link: bool) -> Result<()> {
    let partial = partial_name(to);
    let attempt = |link: bool| -> Result<(bool, String)> {
        crate::tree::remove_if_there(&partial)?;
        let flags = if link { "-al" } else { "-a" };
        Command::new("cp")
            .arg(flags)
            .arg("--")
            .arg(from)
            .arg(&partial)
            .capture()
    };
    let mut copied = attempt(link)?;
    if link && !copied.0 {
        copied = attempt(false)?;
    }
    if !copied.0 {
        let _ = fs::remove_dir_all(&partial);
        bail!(
            "copying {} to {}: {}",
            from.display(),
            to.display(),
            copied.1.trim()
        );
    }
    fs::rename(&partial, to)
        .with_context(|| format!("moving {} to {}", partial.display(), to.display()))
}

/// The entries of the tree `to` that an entry of the tree `from` would replace if the two were merged
/// (a directory merges with a directory; anything else collides).
pub(super) fn collisions(from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in crate::tree::walk(from).skip(1) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        if relative.components().any(|c| c == Component::ParentDir) {
            continue;
        }
        let target = to.join(relative);
        let collides = fs::symlink_metadata(&target)
            .is_ok_and(|existing| !(entry.file_type().is_dir() && existing.is_dir()));
        if collides {
            found.push(target);
        }
    }
    Ok(found)
}

/// The name of the installed distribution whose RECORD lists `path` (PEP 376), if any.
pub(super) fn installed_by(venv: &Path, path: &Path) -> Option<String> {
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
