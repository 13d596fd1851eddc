//! One artifact per locked package: the best-ranked wheel for the target's tags, else the sdist;
//! found in the wheelhouse and checked against the lock's sha256 before any installer runs.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{LockedFile, LockedPackage};
use crate::tags::{Tag, WheelName};
use crate::wheelhouse::is_sdist;

/// Where an artifact is installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The wheelhouse's file (an offline build).
    Wheelhouse(PathBuf),
    /// The file the lock names on disk (a pylock.toml `path`, a uv.lock `path` source).
    Path(PathBuf),
    /// The lock's URL (a build with the package index).
    Url(String),
}

impl fmt::Display for Source {
    /// The path or URL, as a requirements file line takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Wheelhouse(p) | Source::Path(p) => write!(f, "{}", p.display()),
            Source::Url(u) => f.write_str(u),
        }
    }
}

/// The artifact chosen for one locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedArtifact {
    /// The package's name, as the lock spells it.
    pub name: String,
    /// Its locked version.
    pub version: String,
    /// The chosen file, with the lock's sha256.
    pub file: LockedFile,
    /// Where it is installed from.
    pub source: Source,
}

/// The file of `package` that the target installs: the wheel whose best tag ranks first in `tags`
/// ([`WheelName::rank`]), else the sdist.
///
/// # Errors
/// When there is neither: the message names the package, its version, the first tags wanted and the
/// files the lock lists.
pub fn choose_file<'a>(package: &'a LockedPackage, tags: &[Tag]) -> Result<&'a LockedFile> {
    let best_wheel = package
        .files
        .iter()
        .filter_map(|f| {
            WheelName::parse(&f.file_name)
                .and_then(|w| w.rank(tags))
                .map(|rank| (rank, f))
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, f)| f);
    if let Some(file) = best_wheel.or_else(|| package.files.iter().find(|f| is_sdist(&f.file_name)))
    {
        return Ok(file);
    }
    let wanted: Vec<String> = tags.iter().take(4).map(Tag::to_string).collect();
    let listed: Vec<&str> = package.files.iter().map(|f| f.file_name.as_str()).collect();
    bail!(
        "{} {} has no artifact for this interpreter: no wheel tagged {}, … ({} tags) and no sdist; \
         the lock lists {}",
        package.name,
        package.version,
        wanted.join(", "),
        tags.len(),
        if listed.is_empty() {
            "no file".to_owned()
        } else {
            listed.join(", ")
        }
    )
}

/// Chooses each package's artifact ([`choose_file`]) and where it comes from: the wheelhouse when
/// there is one (it must hold the file with the lock's sha256, unless `downloading`: `--download`
/// fills it), else the lock's path, else its URL. Sorted by name.
///
/// # Errors
/// When a package has no artifact for the target, when the wheelhouse lacks a locked file (the
/// message names the package, its version and the file), when a file's sha256 is not the lock's (the
/// message names the file), or when there is no wheelhouse and the lock gives neither a path nor a URL.
pub fn choose_artifacts(
    packages: &[LockedPackage],
    tags: &[Tag],
    wheelhouse: Option<&Path>,
    downloading: bool,
) -> Result<Vec<LockedArtifact>> {
    let mut artifacts = Vec::new();
    for package in packages {
        let file = choose_file(package, tags)?;
        let source = match wheelhouse {
            Some(dir) => {
                let path = dir.join(&file.file_name);
                if !downloading {
                    check_file(&path, package, file, dir)?;
                }
                Source::Wheelhouse(path)
            }
            None => match (&file.path, &file.url) {
                (Some(path), _) if path.is_file() => Source::Path(path.clone()),
                (_, Some(url)) => Source::Url(url.clone()),
                _ => bail!(
                    "{} {}: the lock gives no URL for {} and there is no wheelhouse; name one with \
                     --wheelhouse and fill it with dh_rustvenv --download",
                    package.name,
                    package.version,
                    file.file_name
                ),
            },
        };
        artifacts.push(LockedArtifact {
            name: package.name.clone(),
            version: package.version.clone(),
            file: file.clone(),
            source,
        });
    }
    artifacts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(artifacts)
}

/// Checks that the wheelhouse file `path` is there with the lock's sha256.
///
/// # Errors
/// A missing file names the package, its version and the file; a mismatch names the file and both
/// digests.
pub fn check_file(
    path: &Path,
    package: &LockedPackage,
    file: &LockedFile,
    dir: &Path,
) -> Result<()> {
    if !path.is_file() {
        bail!(
            "{} {} is locked to {}, which is not in the wheelhouse {}; fill it with dh_rustvenv --download",
            package.name,
            package.version,
            file.file_name,
            dir.display()
        );
    }
    let actual = sha256_file(path)?;
    if actual != file.sha256 {
        bail!(
            "hash mismatch: {} has sha256 {actual}, the lock has {} for {} {}",
            path.display(),
            file.sha256,
            package.name,
            package.version
        );
    }
    Ok(())
}

/// The sha256 of the file at `path`, lowercase hex.
///
/// # Errors
/// When it cannot be read; the message names it.
pub fn sha256_file(path: &Path) -> Result<String> {
    use anyhow::Context as _;
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    std::io::copy(&mut file, &mut digest).with_context(|| format!("reading {}", path.display()))?;
    Ok(digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::compatible_tags;

    fn file(name: &str) -> LockedFile {
        LockedFile {
            file_name: name.into(),
            url: Some(format!("https://files.example/{name}")),
            path: None,
            sha256: "0".repeat(64),
        }
    }

    fn package(files: &[&str]) -> LockedPackage {
        LockedPackage {
            name: "demo".into(),
            version: "1.0".into(),
            files: files.iter().map(|f| file(f)).collect(),
        }
    }

    #[test]
    fn the_best_ranked_wheel_wins_then_the_sdist() {
        let tags = compatible_tags(11, "x86_64", Some(36));
        let p = package(&[
            "demo-1.0.tar.gz",
            "demo-1.0-py3-none-any.whl",
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        ]);
        assert_eq!(
            choose_file(&p, &tags).unwrap().file_name,
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
        let p = package(&[
            "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "demo-1.0.tar.gz",
        ]);
        assert_eq!(choose_file(&p, &tags).unwrap().file_name, "demo-1.0.tar.gz");
        let p = package(&["demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"]);
        let err = choose_file(&p, &tags).unwrap_err().to_string();
        assert!(
            err.contains("demo 1.0 has no artifact")
                && err.contains("cp311-cp311-manylinux_2_36_x86_64"),
            "{err}"
        );
    }

    #[test]
    fn the_wheelhouse_must_hold_each_file_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let tags = compatible_tags(11, "x86_64", Some(36));
        let mut p = package(&["demo-1.0-py3-none-any.whl"]);
        let err = choose_artifacts(&[p.clone()], &tags, Some(dir.path()), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("demo 1.0 is locked to demo-1.0-py3-none-any.whl"),
            "{err}"
        );
        assert!(choose_artifacts(&[p.clone()], &tags, Some(dir.path()), true).is_ok());
        std::fs::write(dir.path().join("demo-1.0-py3-none-any.whl"), "wheel").unwrap();
        let err = choose_artifacts(&[p.clone()], &tags, Some(dir.path()), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("hash mismatch") && err.contains("demo-1.0-py3-none-any.whl"),
            "{err}"
        );
        p.files[0].sha256 = sha256_file(&dir.path().join("demo-1.0-py3-none-any.whl")).unwrap();
        let chosen = choose_artifacts(&[p.clone()], &tags, Some(dir.path()), false).unwrap();
        assert_eq!(
            chosen[0].source,
            Source::Wheelhouse(dir.path().join("demo-1.0-py3-none-any.whl"))
        );
        let online = choose_artifacts(&[p], &tags, None, false).unwrap();
        assert_eq!(
            online[0].source.to_string(),
            "https://files.example/demo-1.0-py3-none-any.whl"
        );
    }
}
