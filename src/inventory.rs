//! The one walk of the venv: every entry listed once, in file-name order, each regular file classified
//! once (ELF, script with its `#!` line, or other) from its first bytes.
//!
//! The stages after installation take the [`Inventory`] instead of walking the tree again: relocation
//! reads the files it lists and tells it what it removed and rewrote, the ELF stage reads the files it
//! classified as ELF, the RECORD update finds the RECORDs in it, and the lintian overrides read the
//! scripts' `#!` lines from it. Only the snapshot, taken when everything is written, walks again.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::tree;

/// How many bytes of each regular file are read to classify it: the ELF magic, and a `#!` line as
/// long as lintian reads one (its scripts check reads 256 bytes).
pub const HEAD_BYTES: usize = 256;

/// What a regular file holds, from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// It starts with the ELF magic number.
    Elf,
    /// It starts with `#!`: the line without its ending (at most [`HEAD_BYTES`] bytes).
    Script(Vec<u8>),
    /// Anything else, an empty file included.
    Other,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Directory,
    /// A symbolic link (never followed).
    Symlink,
    /// A regular file: its permission bits (`st_mode & 0o7777`) and its class.
    File {
        /// The permission bits.
        mode: u32,
        /// What it holds.
        class: Class,
    },
    /// A FIFO, socket or device node: nothing a stage changes.
    Special,
}

/// One entry of the venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its absolute path, under the inventory's root.
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
}

impl Entry {
    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        matches!(self.kind, Kind::File { .. })
    }

    /// Whether this is a regular file with the ELF magic number.
    pub fn is_elf(&self) -> bool {
        matches!(
            self.kind,
            Kind::File {
                class: Class::Elf,
                ..
            }
        )
    }

    /// Whether this is a regular file executable by anyone.
    pub fn is_executable(&self) -> bool {
        matches!(self.kind, Kind::File { mode, .. } if tree::is_executable(mode))
    }

    /// The `#!` line of a script (without its line ending).
    pub fn shebang_line(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::File {
                class: Class::Script(line),
                ..
            } => Some(line),
            _ => None,
        }
    }
}

/// The venv's entries below its root (the root itself not included), sorted by file name as
/// [`tree::walk`] lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// The venv's root (absolute).
    pub root: PathBuf,
    /// Its entries, in walk order.
    pub entries: Vec<Entry>,
}

impl Inventory {
    /// Walks the tree at `root` once, classifying each regular file from its first [`HEAD_BYTES`].
    ///
    /// # Errors
    /// When a directory cannot be listed or a file cannot be read; the message names it.
    pub fn scan(root: &Path) -> Result<Inventory> {
        let mut entries = Vec::new();
        for entry in tree::walk(root).skip(1) {
            let entry = entry.with_context(|| format!("reading {}", root.display()))?;
            let path = entry.path();
            let file_type = entry.file_type();
            let kind = if file_type.is_dir() {
                Kind::Directory
            } else if file_type.is_symlink() {
                Kind::Symlink
            } else if file_type.is_file() {
                let metadata = entry
                    .metadata()
                    .with_context(|| format!("reading {}", path.display()))?;
                Kind::File {
                    mode: metadata.permissions().mode() & 0o7777,
                    class: classify(path)?,
                }
            } else {
                Kind::Special
            };
            entries.push(Entry {
                path: path.to_path_buf(),
                kind,
            });
        }
        Ok(Inventory {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// The entries that are regular files with the ELF magic number.
    pub fn elf_files(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_elf())
    }

    /// The paths of the regular files, in walk order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.entries
            .iter()
            .filter(|e| e.is_file())
            .map(|e| e.path.as_path())
    }

    /// Drops the entries `removed` names (files and directories a stage removed from the tree).
    pub fn forget(&mut self, removed: &std::collections::BTreeSet<PathBuf>) {
        if !removed.is_empty() {
            self.entries.retain(|e| !removed.contains(&e.path));
        }
    }
}

/// The class of a file from its first bytes, read from `path`.
fn classify(path: &Path) -> Result<Class> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    fs::File::open(path)
        .and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(class_of(&head))
}

/// The class of a file whose first bytes (or all of them) are `head`.
pub fn class_of(head: &[u8]) -> Class {
    if tree::is_elf(head) {
        Class::Elf
    } else if head.starts_with(b"#!") {
        let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let line = &head[..end];
        Class::Script(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
    } else {
        Class::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_walk_lists_and_classifies_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("venv");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("lib/pkg")).unwrap();
        fs::write(
            root.join("bin/tool"),
            "#!/opt/venvs/demo/bin/python\r\nimport x\n",
        )
        .unwrap();
        fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(root.join("lib/pkg/_speedups.so"), b"\x7fELF\x02\x01\x01").unwrap();
        fs::write(root.join("lib/pkg/empty.py"), b"").unwrap();
        std::os::unix::fs::symlink("python3", root.join("bin/python")).unwrap();
        let inventory = Inventory::scan(&root).unwrap();
        let listed: Vec<String> = inventory
            .entries
            .iter()
            .map(|e| {
                let name = e.path.strip_prefix(&root).unwrap().display().to_string();
                let kind = match &e.kind {
                    Kind::Directory => "dir".to_owned(),
                    Kind::Symlink => "link".to_owned(),
                    Kind::File {
                        mode,
                        class: Class::Script(line),
                    } => format!("{mode:o} script {}", String::from_utf8_lossy(line)),
                    Kind::File { mode, class } => format!("{mode:o} {class:?}"),
                    Kind::Special => "special".to_owned(),
                };
                format!("{name}: {kind}")
            })
            .collect();
        assert_eq!(
            listed,
            [
                "bin: dir",
                "bin/python: link",
                "bin/tool: 755 script #!/opt/venvs/demo/bin/python",
                "lib: dir",
                "lib/pkg: dir",
                "lib/pkg/_speedups.so: 644 Elf",
                "lib/pkg/empty.py: 644 Other",
            ]
        );
        assert_eq!(inventory.elf_files().count(), 1);
        let tool = &inventory.entries[2];
        assert_eq!(
            tool.shebang_line(),
            Some(&b"#!/opt/venvs/demo/bin/python"[..])
        );
        assert!(tool.is_executable());
    }

    #[test]
    fn a_long_first_line_is_cut_at_the_head() {
        let mut long = b"#!/usr/bin/env ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 400));
        match class_of(&long[..HEAD_BYTES]) {
            Class::Script(line) => assert_eq!(line.len(), HEAD_BYTES),
            other => panic!("{other:?}"),
        }
        assert_eq!(class_of(b""), Class::Other);
        assert_eq!(class_of(b"\x7fELF"), Class::Elf);
    }
}
