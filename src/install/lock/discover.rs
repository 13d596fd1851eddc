//! Which input a build installs: a requirements file or a lock file, named or found.
//!
//! `--lock FILE` names a lock; `--requirements FILE` (or dh-virtualenv's `DH_REQUIREMENTS_FILE`) names
//! a requirements file, or a lock when its name is PEP 751's (`pylock.toml`, `pylock.<name>.toml`).
//! With neither, `requirements.txt` in the source directory wins as with dh-virtualenv; without one,
//! the first of `pylock.toml`, `uv.lock` and `poetry.lock` found there is read.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// The lock-file formats dh_rustvenv reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockFormat {
    /// PEP 751's `pylock.toml` (or `pylock.<name>.toml`).
    Pylock,
    /// uv's `uv.lock`.
    Uv,
    /// Poetry's `poetry.lock`.
    Poetry,
}

impl LockFormat {
    /// The format a file name says: `pylock.toml` and `pylock.<name>.toml` (PEP 751), `uv.lock`,
    /// `poetry.lock`; None for any other name.
    pub fn of_file_name(name: &str) -> Option<LockFormat> {
        match name {
            "uv.lock" => Some(LockFormat::Uv),
            "poetry.lock" => Some(LockFormat::Poetry),
            _ if name == "pylock.toml"
                || (name.starts_with("pylock.") && name.ends_with(".toml") && name.len() > 12) =>
            {
                Some(LockFormat::Pylock)
            }
            _ => None,
        }
    }
}

/// What the build installs before the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A requirements file (absolute); `note` is the line to print when a lock file was passed over.
    Requirements {
        /// The file.
        file: PathBuf,
        /// Said once when the source also holds a lock file.
        note: Option<String>,
    },
    /// A lock file (absolute), of `format`; `how` says how it was chosen.
    Lock {
        /// The file.
        file: PathBuf,
        /// Its format.
        format: LockFormat,
        /// "named with --lock", "found in the source directory".
        how: String,
    },
    /// Neither: only the project (and `--preinstall`) is installed.
    Nothing,
}

/// The lock files looked for in the source directory, in this order.
pub const LOCK_FILES: [&str; 3] = ["pylock.toml", "uv.lock", "poetry.lock"];

/// Chooses the input of the build in `source_dir`: `lock` (`--lock`), else `requirements` (named, with
/// the option that named it), else what the source directory holds (`requirements.txt`, then `pylock.toml`, `uv.lock`, `poetry.lock`).
///
/// # Errors
/// When a named file does not exist (the message names the option), when `--lock` names a file of no
/// format dh_rustvenv reads, or when both `--lock` and `--requirements` are given.
pub fn discover(
    source_dir: &Path,
    requirements: Option<(&Path, &str)>,
    lock: Option<&Path>,
) -> Result<Input> {
    if let Some(named) = lock {
        if let Some((other, option)) = requirements {
            bail!(
                "--lock {} and {option} {} name two inputs; give one",
                named.display(),
                other.display()
            );
        }
        let file = named_file(source_dir, named, "lock file", "--lock")?;
        let Some(format) = LockFormat::of_file_name(&file_name(&file)) else {
            bail!(
                "--lock {}: dh_rustvenv reads pylock.toml (or pylock.NAME.toml), uv.lock and poetry.lock, \
                 and tells them by their names",
                named.display()
            );
        };
        return Ok(Input::Lock {
            file,
            format,
            how: "named with --lock".to_owned(),
        });
    }
    if let Some((named, option)) = requirements {
        let file = named_file(source_dir, named, "requirements file", option)?;
        if LockFormat::of_file_name(&file_name(&file)) == Some(LockFormat::Pylock) {
            return Ok(Input::Lock {
                file,
                format: LockFormat::Pylock,
                how: format!("named with {option}"),
            });
        }
        return Ok(Input::Requirements { file, note: None });
    }
    let found = LOCK_FILES
        .iter()
        .map(|name| source_dir.join(name))
        .find(|p| p.is_file());
    let requirements_txt = source_dir.join("requirements.txt");
    if requirements_txt.is_file() {
        let note = found.map(|lock| {
            let name = file_name(&lock);
            format!(
                "installing requirements.txt, not {name}, which the source also holds (--lock {name} \
                 installs the locked set instead)"
            )
        });
        return Ok(Input::Requirements {
            file: requirements_txt,
            note,
        });
    }
    Ok(match found {
        Some(file) => Input::Lock {
            format: LockFormat::of_file_name(&file_name(&file)).expect("one of LOCK_FILES"),
            file,
            how: "found in the source directory".to_owned(),
        },
        None => Input::Nothing,
    })
}

/// `named` (relative to `source_dir`), which `option` named as a `kind` ("lock file"), as a path
/// under `source_dir`.
///
/// # Errors
/// When it is not a file: the message names the option and the source directory.
fn named_file(source_dir: &Path, named: &Path, kind: &str, option: &str) -> Result<PathBuf> {
    let file = source_dir.join(named);
    if !file.is_file() {
        bail!(
            "{kind} {} not found (named with {option}, relative to the source directory {})",
            file.display(),
            source_dir.display()
        );
    }
    Ok(file)
}

/// The last component of `path`, lossily as text ("" for none).
fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_txt_wins_unless_lock_names_one_and_locks_are_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(discover(d, None, None).unwrap(), Input::Nothing);
        std::fs::write(d.join("poetry.lock"), "").unwrap();
        std::fs::write(d.join("uv.lock"), "").unwrap();
        let Input::Lock { file, format, .. } = discover(d, None, None).unwrap() else {
            panic!("no lock found")
        };
        assert_eq!((file, format), (d.join("uv.lock"), LockFormat::Uv));
        std::fs::write(d.join("requirements.txt"), "").unwrap();
        let Input::Requirements { note, .. } = discover(d, None, None).unwrap() else {
            panic!("requirements.txt did not win")
        };
        assert!(note.unwrap().contains("--lock uv.lock"));
        let Input::Lock { format, how, .. } =
            discover(d, None, Some(Path::new("poetry.lock"))).unwrap()
        else {
            panic!("--lock did not win")
        };
        assert_eq!(
            (format, how.as_str()),
            (LockFormat::Poetry, "named with --lock")
        );
        std::fs::write(d.join("pylock.web.toml"), "").unwrap();
        let named = discover(
            d,
            Some((Path::new("pylock.web.toml"), "--requirements")),
            None,
        )
        .unwrap();
        assert!(matches!(
            named,
            Input::Lock {
                format: LockFormat::Pylock,
                ..
            }
        ));
        let err = discover(d, None, Some(Path::new("requirements.txt")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tells them by their names"), "{err}");
        assert!(
            discover(
                d,
                Some((Path::new("r.txt"), "--requirements")),
                Some(Path::new("uv.lock"))
            )
            .is_err()
        );
        assert_eq!(LockFormat::of_file_name("pylock..toml"), None);
    }
}
