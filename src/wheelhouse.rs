//! What a wheelhouse must hold for an interpreter other than the one dh_rustvenv runs with.
//!
//! `--download-for` names target interpreters (`3.11`, `trixie`, `3.12@2.39`); this module turns each
//! into a [`DownloadTarget`] (the CPython minor version and the oldest glibc its packages must run on)
//! and into the arguments that make `pip download` choose that interpreter's wheels
//! ([`DownloadTarget::pip_args`]). It also reads what pip reports having saved, and holds the Python
//! that reads a project's or an sdist's build requirements. It runs nothing and writes nothing; the
//! downloads themselves are `download::download_for`'s.

use std::fmt;

/// A Debian release whose `python3` and glibc a wheelhouse can target by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// Its code name, as `--download-for` takes it.
    pub name: &'static str,
    /// The CPython minor version of its `python3` (major 3).
    pub python_minor: u32,
    /// The minor version of its glibc (major 2).
    pub glibc_minor: u32,
}

/// The Debian releases `--download-for` knows by name: their default `python3` and their glibc
/// (packages python3-defaults and glibc in each release).
pub const RELEASES: [Release; 3] = [
    Release {
        name: "bullseye",
        python_minor: 9,
        glibc_minor: 31,
    },
    Release {
        name: "bookworm",
        python_minor: 11,
        glibc_minor: 36,
    },
    Release {
        name: "trixie",
        python_minor: 13,
        glibc_minor: 41,
    },
];

/// One interpreter `--download-for` fills the wheelhouse for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadTarget {
    /// The CPython minor version (3.`python_minor`).
    pub python_minor: u32,
    /// The oldest glibc the package must run on is 2.`glibc_minor`: wheels tagged for a newer one
    /// (PEP 600's `manylinux_2_<minor>`) are not taken.
    pub glibc_minor: u32,
    /// The Debian release it was named as, or whose python3 it is.
    pub release: Option<&'static str>,
    /// The Debian architecture it was named with (`3.11@arm64`, `bookworm:arm64`); None: the host
    /// architecture of the run (dpkg-architecture's `DEB_HOST_ARCH`).
    pub arch: Option<String>,
}

impl DownloadTarget {
    /// Reads one word of `--download-for`: a release name (`bookworm`), a Python version of a known
    /// release (`3.11`), or a version with the oldest glibc the package must run on
    /// (`3.12@2.39`); each may name a Debian architecture, after `:` (`bookworm:arm64`,
    /// `3.12@2.39:arm64`) or, instead of the glibc, after `@` (`3.11@arm64`).
    ///
    /// # Errors
    /// A message that says what is wrong with `word` and which spellings are accepted; a version
    /// that is not the python3 of a known release needs its glibc; an architecture must be one
    /// manylinux wheels exist for ([`manylinux_machine`]).
    pub fn parse(word: &str) -> Result<DownloadTarget, String> {
        let word = word.trim();
        let (word, arch) = match word.rsplit_once(':') {
            Some((rest, arch)) => (rest, Some(arch)),
            None => match word.rsplit_once('@') {
                Some((rest, after)) if manylinux_machine(after).is_some() => (rest, Some(after)),
                _ => (word, None),
            },
        };
        if let Some(arch) = arch {
            if manylinux_machine(arch).is_none() {
                return Err(format!(
                    "`{arch}` is not a Debian architecture with manylinux wheels (amd64, arm64, \
                     armhf, i386, ppc64el, riscv64, s390x)"
                ));
            }
        }
        let mut target = Self::parse_interpreter(word)?;
        target.arch = arch.map(str::to_owned);
        Ok(target)
    }

    /// [`DownloadTarget::parse`] of a word without its architecture.
    fn parse_interpreter(word: &str) -> Result<DownloadTarget, String> {
        let known: Vec<String> = RELEASES
            .iter()
            .map(|r| format!("{} (3.{})", r.name, r.python_minor))
            .collect();
        if let Some(release) = RELEASES.iter().find(|r| r.name == word) {
            return Ok(DownloadTarget {
                python_minor: release.python_minor,
                glibc_minor: release.glibc_minor,
                release: Some(release.name),
                arch: None,
            });
        }
        let (version, glibc) = match word.split_once('@') {
            Some((version, glibc)) => (version, Some(glibc)),
            None => (version_part(word), None),
        };
        let python_minor = minor_of(version, 3).ok_or_else(|| {
            format!(
                "`{word}` is neither a Python version such as 3.13 nor a Debian release dh_rustvenv knows: {}",
                known.join(", ")
            )
        })?;
        let release = RELEASES.iter().find(|r| r.python_minor == python_minor);
        let glibc_minor = match (glibc, release) {
            (Some(glibc), _) => minor_of(glibc, 2).ok_or_else(|| {
                format!("`{word}`: `{glibc}` after @ is not a glibc version such as 2.41")
            })?,
            (None, Some(release)) => release.glibc_minor,
            (None, None) => {
                return Err(format!(
                    "Python {version} is not the python3 of a Debian release dh_rustvenv knows ({}); name the \
                     oldest glibc the package must run on, as in {version}@2.39",
                    known.join(", ")
                ));
            }
        };
        Ok(DownloadTarget {
            python_minor,
            glibc_minor,
            release: release.map(|r| r.name),
            arch: None,
        })
    }

    /// The wheel ABI tag of this interpreter (`cp313`).
    pub fn abi(&self) -> String {
        format!("cp3{}", self.python_minor)
    }

    /// The arguments that make `pip download` (or a `pip install --dry-run --target`) act for this
    /// interpreter on `arch` (a Debian architecture such as amd64): `--python-version`,
    /// `--implementation cp`, the ABIs `cp3XY`, `abi3` and `none`, and every platform tag whose wheels
    /// run on this glibc and architecture, newest first ([`manylinux_platforms`]), then `any`.
    ///
    /// # Errors
    /// When `arch` is an architecture no manylinux tag exists for; the message names it.
    pub fn pip_args(&self, arch: &str) -> Result<Vec<String>, String> {
        let machine = manylinux_machine(arch).ok_or_else(|| {
            format!(
                "there are no manylinux wheels for the architecture {arch}; build from sdists instead \
                 (--extra-pip-arg=--no-binary=:all: with --download)"
            )
        })?;
        let mut args = vec![
            format!("--python-version=3.{}", self.python_minor),
            "--implementation=cp".to_owned(),
            format!("--abi={}", self.abi()),
            "--abi=abi3".to_owned(),
            "--abi=none".to_owned(),
        ];
        args.extend(
            manylinux_platforms(self.glibc_minor, machine)
                .into_iter()
                .map(|p| format!("--platform={p}")),
        );
        args.push("--platform=any".to_owned());
        Ok(args)
    }
}

impl fmt::Display for DownloadTarget {
    /// `cp313 (trixie, glibc 2.41)`, or `cp312 (glibc 2.39)` for an interpreter of no known release;
    /// `cp311 (bookworm, glibc 2.36, arm64)` with an architecture.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arch = self
            .arch
            .as_ref()
            .map(|a| format!(", {a}"))
            .unwrap_or_default();
        match self.release {
            Some(release) => write!(
                f,
                "{} ({release}, glibc 2.{}{arch})",
                self.abi(),
                self.glibc_minor
            ),
            None => write!(f, "{} (glibc 2.{}{arch})", self.abi(), self.glibc_minor),
        }
    }
}

/// `3.13` of `3.13.5`: a target names a minor version.
fn version_part(word: &str) -> &str {
    match word.match_indices('.').nth(1) {
        Some((at, _)) => &word[..at],
        None => word,
    }
}

/// The minor version of `text` when it reads `<major>.<minor>` with the given major.
fn minor_of(text: &str, major: u32) -> Option<u32> {
    let (first, second) = text.split_once('.')?;
    if first.parse::<u32>().ok()? != major || second.is_empty() {
        return None;
    }
    second.parse().ok()
}

/// The machine name manylinux tags use for a Debian architecture (`amd64` is `x86_64`); None for an
/// architecture without manylinux wheels.
///
/// # References
/// PEP 599 and PEP 600 (the architectures of manylinux2014 and `manylinux_x_y`).
pub fn manylinux_machine(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "amd64" => "x86_64",
        "i386" => "i686",
        "arm64" => "aarch64",
        "armhf" => "armv7l",
        "ppc64el" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        _ => return None,
    })
}

/// Every platform tag of wheels that run on glibc 2.`glibc_minor` on `machine`, newest first: PEP 600's
/// `manylinux_2_<minor>_<machine>` down to the oldest glibc manylinux defines for the machine (2.5 on
/// x86_64 and i686, 2.17 elsewhere), each followed by its legacy alias where it has one
/// (`manylinux2014` for 2.17, `manylinux2010` for 2.12, `manylinux1` for 2.5).
///
/// pip takes `--platform` tags literally (it expands only the legacy aliases), so a wheel built for an
/// older glibc is found only when its tag is in the list.
///
/// # References
/// PEP 600 ("Legacy manylinux tags"), and the order `packaging.tags` gives the running interpreter's
/// tags.
pub fn manylinux_platforms(glibc_minor: u32, machine: &str) -> Vec<String> {
    let oldest = if matches!(machine, "x86_64" | "i686") {
        5
    } else {
        17
    };
    let mut tags = Vec::new();
    for minor in (oldest..=glibc_minor).rev() {
        tags.push(format!("manylinux_2_{minor}_{machine}"));
        let legacy = match minor {
            17 => Some("manylinux2014"),
            12 => Some("manylinux2010"),
            5 => Some("manylinux1"),
            _ => None,
        };
        if let Some(legacy) = legacy {
            tags.push(format!("{legacy}_{machine}"));
        }
    }
    tags
}

/// The file names pip reports for a `pip download`: what it saved, and what was there already.
pub fn downloaded_files(pip_output: &str) -> Vec<String> {
    let mut files: Vec<String> = pip_output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            line.strip_prefix("Saved ")
                .or_else(|| line.strip_prefix("File was already downloaded "))
        })
        .filter_map(|path| path.trim().rsplit('/').next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Whether a wheelhouse file is a source distribution (`.tar.gz`, `.zip`, …) rather than a wheel.
pub fn is_sdist(file_name: &str) -> bool {
    !file_name.ends_with(".whl")
}

/// Python (3.11's tomllib, else the tomli pip vendors) that prints the build requirements of the
/// project directory or sdist archive given as its argument, one a line: `[build-system] requires` of
/// its `pyproject.toml`, or `setuptools>=40.8.0` when it has none, as pip assumes.
///
/// # References
/// PEP 517 and PEP 518 (the `[build-system]` table and the fallback to setuptools).
pub const BUILD_REQUIRES_PY: &str = r#"
import os, sys, tarfile, zipfile
try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
path = sys.argv[1]
text = None
if os.path.isdir(path):
    candidate = os.path.join(path, "pyproject.toml")
    if os.path.isfile(candidate):
        with open(candidate, "rb") as f:
            text = f.read()
elif zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")]
        text = archive.read(names[0]) if names else None
else:
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/pyproject.toml"):
                text = archive.extractfile(member).read()
                break
table = tomllib.loads(text.decode()).get("build-system", {}) if text else {}
for requirement in table.get("requires", ["setuptools>=40.8.0"]):
    print(requirement)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_versions_name_the_same_targets() {
        let trixie = DownloadTarget::parse("trixie").unwrap();
        assert_eq!(trixie, DownloadTarget::parse("3.13").unwrap());
        assert_eq!(trixie, DownloadTarget::parse(" 3.13.5 ").unwrap());
        assert_eq!(
            trixie,
            DownloadTarget {
                python_minor: 13,
                glibc_minor: 41,
                release: Some("trixie"),
                arch: None,
            }
        );
        let bookworm = DownloadTarget::parse("3.11").unwrap();
        assert_eq!((bookworm.python_minor, bookworm.glibc_minor), (11, 36));
        assert_eq!(bookworm.to_string(), "cp311 (bookworm, glibc 2.36)");
    }

    #[test]
    fn a_target_may_name_an_architecture() {
        let arm = DownloadTarget::parse("3.11@arm64").unwrap();
        assert_eq!(
            (arm.python_minor, arm.glibc_minor, arm.arch.as_deref()),
            (11, 36, Some("arm64"))
        );
        assert_eq!(arm, DownloadTarget::parse("bookworm:arm64").unwrap());
        assert_eq!(arm.to_string(), "cp311 (bookworm, glibc 2.36, arm64)");
        let noble = DownloadTarget::parse("3.12@2.39:arm64").unwrap();
        assert_eq!(
            (noble.glibc_minor, noble.arch.as_deref()),
            (39, Some("arm64"))
        );
        assert_eq!(DownloadTarget::parse("trixie").unwrap().arch, None);
        let err = DownloadTarget::parse("bookworm:hurd-i386").unwrap_err();
        assert!(err.contains("hurd-i386"), "{err}");
        assert!(DownloadTarget::parse("3.11@sparc").is_err());
    }

    #[test]
    fn an_unknown_version_needs_its_glibc() {
        let err = DownloadTarget::parse("3.12").unwrap_err();
        assert!(err.contains("3.12@2.39"), "{err}");
        let noble = DownloadTarget::parse("3.12@2.39").unwrap();
        assert_eq!((noble.python_minor, noble.glibc_minor), (12, 39));
        assert_eq!(noble.release, None);
        assert_eq!(noble.to_string(), "cp312 (glibc 2.39)");
        // A glibc given for a known version wins over the release's.
        assert_eq!(DownloadTarget::parse("3.13@2.36").unwrap().glibc_minor, 36);
        for bad in ["sid", "3", "2.7", "3.x", "3.13@241", "3.13@3.1", ""] {
            assert!(DownloadTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pip_args_name_the_interpreter_its_abis_and_every_usable_platform() {
        let args = DownloadTarget::parse("trixie")
            .unwrap()
            .pip_args("amd64")
            .unwrap();
        assert_eq!(
            args[..5],
            [
                "--python-version=3.13",
                "--implementation=cp",
                "--abi=cp313",
                "--abi=abi3",
                "--abi=none"
            ]
        );
        assert_eq!(args[5], "--platform=manylinux_2_41_x86_64");
        assert!(args.contains(&"--platform=manylinux2014_x86_64".to_owned()));
        assert!(args.contains(&"--platform=manylinux1_x86_64".to_owned()));
        assert!(!args.iter().any(|a| a.contains("manylinux_2_42")));
        assert_eq!(args.last().unwrap(), "--platform=any");
        assert!(
            DownloadTarget::parse("bookworm")
                .unwrap()
                .pip_args("hurd-i386")
                .unwrap_err()
                .contains("hurd-i386")
        );
    }

    #[test]
    fn manylinux_platforms_stop_at_the_oldest_glibc_of_the_machine() {
        let x86 = manylinux_platforms(36, "x86_64");
        assert_eq!(x86.first().unwrap(), "manylinux_2_36_x86_64");
        assert_eq!(
            x86[x86.len() - 2..],
            ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
        );
        let position = |tag: &str| x86.iter().position(|t| t == tag).unwrap();
        assert_eq!(
            position("manylinux2014_x86_64"),
            position("manylinux_2_17_x86_64") + 1
        );
        let arm = manylinux_platforms(41, "aarch64");
        assert_eq!(
            arm.last().unwrap(),
            "manylinux2014_aarch64",
            "2.17 is the oldest on aarch64"
        );
        assert_eq!(arm.len(), 41 - 17 + 2);
    }

    #[test]
    fn downloaded_files_are_read_from_what_pip_saved_or_found() {
        let output = "Collecting MarkupSafe==3.0.4\n  Downloading markupsafe-3.0.4-cp313-cp313-manylinux_2_17_x86_64.whl (22 kB)\n\
                      Saved ./debian/wheelhouse/markupsafe-3.0.4-cp313-cp313-manylinux_2_17_x86_64.whl\n\
                      File was already downloaded /src/debian/wheelhouse/jinja2-3.1.6-py3-none-any.whl\n\
                      Saved ./debian/wheelhouse/PyYAML-5.3.1.tar.gz\nSuccessfully downloaded MarkupSafe jinja2 PyYAML\n";
        let files = downloaded_files(output);
        assert_eq!(
            files,
            [
                "PyYAML-5.3.1.tar.gz",
                "jinja2-3.1.6-py3-none-any.whl",
                "markupsafe-3.0.4-cp313-cp313-manylinux_2_17_x86_64.whl"
            ]
        );
        let sdists: Vec<&String> = files.iter().filter(|f| is_sdist(f)).collect();
        assert_eq!(sdists, ["PyYAML-5.3.1.tar.gz"]);
    }

    #[test]
    fn build_requirements_of_directories_and_sdists() {
        use std::process::Command;
        let python = std::path::Path::new("/usr/bin/python3");
        if !python.exists() {
            eprintln!("skipped: no /usr/bin/python3");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("demo-1.0");
        std::fs::create_dir_all(&project).unwrap();
        let requires = |path: &std::path::Path| {
            let output = Command::new(python)
                .args(["-c", BUILD_REQUIRES_PY])
                .arg(path)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        };
        assert_eq!(requires(&project), "setuptools>=40.8.0\n");
        std::fs::write(
            project.join("pyproject.toml"),
            "[build-system]\nrequires = [\"hatchling>=1.20\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n",
        )
        .unwrap();
        assert_eq!(requires(&project), "hatchling>=1.20\nhatch-vcs\n");
        let sdist = dir.path().join("demo-1.0.tar.gz");
        let packed = Command::new("tar")
            .arg("-C")
            .arg(dir.path())
            .arg("-czf")
            .arg(&sdist)
            .arg("demo-1.0")
            .status()
            .unwrap();
        assert!(packed.success());
        assert_eq!(requires(&sdist), "hatchling>=1.20\nhatch-vcs\n");
    }
}
