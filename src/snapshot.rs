//! What changed in the venv since dh_rustvenv left it: a snapshot of every entry's kind and identity.
//!
//! [`Snapshot`] records each entry's kind and identity (size, modification time and inode
//! for files, the raw target for symlinks) when dh_rustvenv finishes, so that the late stage can tell
//! exactly which entries rules added or changed afterwards. Names are kept as raw bytes throughout: a
//! name need not be UTF-8 and may hold any byte but `/` and NUL.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What an entry is, and what identifies its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A directory.
    Directory,
    /// A regular file: size in bytes, modification time in nanoseconds since the epoch, inode.
    File {
        /// Its size in bytes.
        size: u64,
        /// Its modification time, in nanoseconds since the epoch.
        mtime_ns: i128,
        /// Its inode number.
        inode: u64,
    },
    /// A symlink, by its raw target.
    Symlink(Vec<u8>),
    /// Anything else (a FIFO, a socket, a device).
    Other,
}

impl Identity {
    fn of(path: &Path) -> Result<Identity> {
        let metadata =
            fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let file_type = metadata.file_type();
        Ok(if file_type.is_dir() {
            Identity::Directory
        } else if file_type.is_symlink() {
            let target =
                fs::read_link(path).with_context(|| format!("reading {}", path.display()))?;
            Identity::Symlink(target.into_os_string().into_encoded_bytes())
        } else if file_type.is_file() {
            Identity::File {
                size: metadata.len(),
                mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                    + i128::from(metadata.mtime_nsec()),
                inode: metadata.ino(),
            }
        } else {
            Identity::Other
        })
    }
}

/// Every entry under a root, by its path relative to the root (raw bytes), with its [`Identity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    entries: BTreeMap<Vec<u8>, Identity>,
}

impl Snapshot {
    /// Takes a snapshot of the tree under `root`.
    ///
    /// # Errors
    /// When the tree cannot be read; the message names the entry.
    pub fn take(root: &Path) -> Result<Snapshot> {
        let mut entries = BTreeMap::new();
        for entry in crate::tree::walk(root).skip(1) {
            let entry = entry.with_context(|| format!("reading {}", root.display()))?;
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            entries.insert(
                relative.as_os_str().as_bytes().to_vec(),
                Identity::of(entry.path())?,
            );
        }
        Ok(Snapshot { entries })
    }

    /// The paths (absolute, under `root`) of the entries of this snapshot, taken of `root` now, that
    /// are not in `earlier` or differ from it there; directories are left out.
    pub fn added_or_changed(&self, earlier: &Snapshot, root: &Path) -> Vec<PathBuf> {
        self.entries
            .iter()
            .filter(|(_, identity)| **identity != Identity::Directory)
            .filter(|(path, identity)| earlier.entries.get(*path) != Some(identity))
            .map(|(path, _)| root.join(OsStr::from_bytes(path)))
            .collect()
    }

    /// The paths (relative to the root) of the entries of this snapshot that are not in `earlier`,
    /// leaving out those inside a directory that is itself new.
    pub fn added_since(&self, earlier: &Snapshot) -> Vec<PathBuf> {
        let mut added: Vec<PathBuf> = Vec::new();
        for path in self.entries.keys() {
            if earlier.entries.contains_key(path) {
                continue;
            }
            let path = PathBuf::from(OsStr::from_bytes(path));
            if added.last().is_none_or(|dir| !path.starts_with(dir)) {
                added.push(path);
            }
        }
        added
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The snapshot as text, one entry a line: the hex-encoded path, then its kind and identity,
    /// separated by tabs. Hex keeps every byte of a name (newlines included) on one line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (path, identity) in &self.entries {
            let line = match identity {
                Identity::Directory => "d".to_owned(),
                Identity::File {
                    size,
                    mtime_ns,
                    inode,
                } => format!("f\t{size}\t{mtime_ns}\t{inode}"),
                Identity::Symlink(target) => format!("l\t{}", hex(target)),
                Identity::Other => "o".to_owned(),
            };
            out.push_str(&format!("{}\t{line}\n", hex(path)));
        }
        out
    }

    /// Reads what [`Snapshot::to_text`] wrote.
    ///
    /// # Errors
    /// On a line that is not in that form; the message gives its number.
    pub fn from_text(text: &str) -> Result<Snapshot> {
        let mut entries = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let bad = || anyhow::anyhow!("line {}: not a snapshot entry: {line:?}", number + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            let path = unhex(fields.first().ok_or_else(bad)?).ok_or_else(bad)?;
            let identity = match fields.get(1..).unwrap_or_default() {
                ["d"] => Identity::Directory,
                ["o"] => Identity::Other,
                ["f", size, mtime, inode] => Identity::File {
                    size: size.parse().map_err(|_| bad())?,
                    mtime_ns: mtime.parse().map_err(|_| bad())?,
                    inode: inode.parse().map_err(|_| bad())?,
                },
                ["l", target] => Identity::Symlink(unhex(target).ok_or_else(bad)?),
                _ => bail!(bad()),
            };
            entries.insert(path, identity);
        }
        Ok(Snapshot { entries })
    }
}

/// `bytes` as lower-case hexadecimal, two digits a byte: how the snapshot and the state keep names
/// that need not be UTF-8.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of what [`hex`] wrote; None when `text` is not an even number of hexadecimal digits.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 == 1 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_tells_added_and_changed_entries_and_survives_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("bin")).unwrap();
        fs::write(root.join("bin/kept"), "same").unwrap();
        fs::write(root.join("bin/changed"), "old").unwrap();
        let odd = OsStr::from_bytes(b"a\nb\xff.zip");
        fs::write(root.join(odd), "x").unwrap();
        std::os::unix::fs::symlink(OsStr::from_bytes(b"t\xfe"), root.join("link")).unwrap();
        let before = Snapshot::take(root).unwrap();
        let reread = Snapshot::from_text(&before.to_text()).unwrap();
        assert_eq!(reread, before);
        assert_eq!(before.len(), 5);

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(root.join("bin/changed"), "new!").unwrap();
        fs::write(root.join("bin/added"), "new").unwrap();
        fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("elsewhere", root.join("link")).unwrap();
        let after = Snapshot::take(root).unwrap();
        let names: Vec<PathBuf> = after.added_or_changed(&reread, root);
        assert_eq!(
            names,
            [
                root.join("bin/added"),
                root.join("bin/changed"),
                root.join("link")
            ]
        );
        assert!(Snapshot::from_text("zz\tf\n").is_err());
        assert!(Snapshot::from_text("61\tf\t1\tx\t3\n").is_err());
    }
}
