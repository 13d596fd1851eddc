//! Lock files as the install's input: `pylock.toml` (PEP 751), `uv.lock` and `poetry.lock`, each
//! read by dh_rustvenv itself, offline, with no tool installed.
//!
//! Takes the lock file, the target ([`Target`]: the interpreter's markers and wheel tags, the extras
//! and dependency groups asked for) and the wheelhouse; returns a [`LockPlan`]: one artifact for each
//! locked package that applies to the target, each with the lock's sha256, found in the wheelhouse
//! and checked against it. The install stage gives them to pip (`--no-deps --require-hashes`) or uv,
//! then installs the project with `--no-deps`. Nothing is written here but the requirements file
//! of [`LockPlan::write_requirements`].
//!
//! One file per format (`pylock`, `uvlock`, `poetry`), each returning the locked packages that apply
//! to the target with all their files; `choose` picks each one's artifact and checks the wheelhouse;
//! `discover` says which input a build uses; `fetch` fills the wheelhouse with the locked artifacts
//! (`--download`); this file holds the shared types.

mod choose;
mod discover;
pub mod fetch;
mod poetry;
mod pylock;
mod toml_access;
mod uvlock;

#[cfg(test)]
mod fuzz_tests;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::markers::MarkerEnvironment;
use crate::tags::Tag;

pub use choose::{LockedArtifact, Source, check_file, choose_artifacts, choose_file, sha256_file};
pub use discover::{Input, LockFormat, discover};

/// What the lock is read for: the target interpreter and what the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target's marker values (`platform_machine` from the interpreter's platform); its
    /// `extras` and `dependency_groups` are the ones asked for.
    pub env: MarkerEnvironment,
    /// The wheel tags the target installs, most preferred first ([`crate::tags::compatible_tags`]).
    pub tags: Vec<Tag>,
    /// Whether `--group` was given: when not, a pylock.toml's `default-groups` apply.
    pub groups_named: bool,
}

/// One file a lock lists for a package: a wheel or an sdist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedFile {
    /// The file name (`greetlib-1.0-py3-none-any.whl`).
    pub file_name: String,
    /// Where the lock says it can be downloaded, when it says.
    pub url: Option<String>,
    /// Where the lock says it lies on disk (absolute, resolved against the lock's directory).
    pub path: Option<PathBuf>,
    /// Its sha256, lowercase hex.
    pub sha256: String,
}

/// A locked package that applies to the target, with every file the lock lists for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The name as the lock spells it.
    pub name: String,
    /// The locked version.
    pub version: String,
    /// Its wheels and sdist, in the lock's order.
    pub files: Vec<LockedFile>,
}

/// What a format's reader returns: the packages to install, and warnings (a lock older than
/// `pyproject.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRead {
    /// The packages that apply to the target, the project's own entry left out.
    pub packages: Vec<LockedPackage>,
    /// Every package name the lock holds, normalized (for the check against `pyproject.toml`).
    pub all_names: Vec<String>,
    /// What the format's own records say against `pyproject.toml`, one warning a line.
    pub warnings: Vec<String>,
}

/// The locked set chosen for the target, ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPlan {
    /// The lock file (absolute).
    pub file: PathBuf,
    /// Its format.
    pub format: LockFormat,
    /// One artifact per package, sorted by name.
    pub artifacts: Vec<LockedArtifact>,
    /// Warnings to print before the install (a lock older than `pyproject.toml`).
    pub warnings: Vec<String>,
    /// How the input was chosen, for the one line the build prints.
    pub how: String,
}

impl LockPlan {
    /// The file name of the lock (`uv.lock`), as messages name it.
    pub fn name(&self) -> String {
        self.file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    /// The requirements file pip or uv installs the locked set from: one line per artifact, its path
    /// (or URL) and `--hash=sha256:<hex>` (pip's hash-checking mode), sorted by package name.
    pub fn requirements_text(&self) -> String {
        self.artifacts
            .iter()
            .map(|a| format!("{} --hash=sha256:{}\n", a.source, a.file.sha256))
            .collect()
    }

    /// Writes [`LockPlan::requirements_text`] to `path`.
    ///
    /// # Errors
    /// When the file cannot be written; the message names it.
    pub fn write_requirements(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, self.requirements_text())
            .with_context(|| format!("writing {}", path.display()))
    }
}

impl fmt::Display for LockFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockFormat::Pylock => "PEP 751 lock file",
            LockFormat::Uv => "uv lock file",
            LockFormat::Poetry => "Poetry lock file",
        })
    }
}

/// Reads the lock `file` of `format` for `target`: the packages that apply, with the warnings of
/// `stale_warnings` against the project's `pyproject.toml` in `project_dir`.
///
/// # Errors
/// When the file cannot be read or is not a lock of its format: one message naming the file and what
/// is wrong (a TOML error with its line, a missing key, a package with no version).
pub fn read_lock(
    file: &Path,
    format: LockFormat,
    target: &Target,
    project_dir: &Path,
) -> Result<LockRead> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let pyproject = read_pyproject(project_dir);
    let base = file.parent().unwrap_or(Path::new("."));
    let result = match format {
        LockFormat::Pylock => pylock::read(&text, target, base),
        LockFormat::Uv => uvlock::read(&text, target, base, pyproject.as_ref()),
        LockFormat::Poetry => poetry::read(&text, target),
    };
    let mut read = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(pyproject) = &pyproject {
        read.warnings
            .extend(stale_warnings(pyproject, &read.all_names, &target.env));
    }
    Ok(read)
}

/// The project's `pyproject.toml` as a TOML table; None when there is none or it cannot be read
/// (the build backend will say what is wrong with it).
fn read_pyproject(project_dir: &Path) -> Option<toml::Table> {
    let text = std::fs::read_to_string(project_dir.join("pyproject.toml")).ok()?;
    text.parse().ok()
}

/// The dependencies of `pyproject.toml`'s `[project]` that apply to the target and that the lock does
/// not hold: each one a sign of a lock older than `pyproject.toml`, one warning for all.
fn stale_warnings(
    pyproject: &toml::Table,
    locked: &[String],
    env: &MarkerEnvironment,
) -> Vec<String> {
    let Some(dependencies) = pyproject
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
    else {
        return Vec::new();
    };
    let missing: Vec<String> = dependencies
        .iter()
        .filter_map(|d| d.as_str())
        .filter_map(crate::markers::parse_requirement)
        .filter(|(_, _, marker)| {
            marker
                .as_deref()
                .is_none_or(|m| crate::markers::evaluate_marker(m, env, None) != Some(false))
        })
        .map(|(name, _, _)| name)
        .filter(|name| !locked.contains(name))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "pyproject.toml depends on {}, which the lock does not hold: the lock is older than \
         pyproject.toml; lock again",
        missing.join(", ")
    )]
}

/// What the install stage takes from the chosen input: the requirements file to give the installer
/// (for a lock, the one [`LockPlan::write_requirements`] writes into the work directory), the locked
/// set, and the line to print about the choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The requirements file the installer is given.
    pub requirements: Option<PathBuf>,
    /// The locked set, when the input is a lock.
    pub lock: Option<LockPlan>,
    /// One line saying which input was used, when a lock file was read or passed over.
    pub note: Option<String>,
}

/// Turns the input [`discover`] chose into what the install stage takes: for a lock, the packages
/// that apply to `interpreter` with `extras` and `groups`, one artifact each, checked against
/// `wheelhouse` unless `downloading` (`--download` fills it).
///
/// # Errors
/// When `groups` are given without a lock; when the lock cannot be read
/// ([`read_lock`]) or an artifact is missing, lacks for the interpreter or does not match its hash
/// ([`choose_artifacts`]); the messages name the lock file.
pub fn resolve(
    input: Input,
    layout: &crate::layout::Layout,
    interpreter: &crate::interpreter::Interpreter,
    extras: &[String],
    groups: &[String],
    wheelhouse: Option<&Path>,
    downloading: bool,
) -> Result<Resolved> {
    let groups: Vec<String> = groups.iter().filter(|g| !g.is_empty()).cloned().collect();
    let (file, format, how) = match input {
        Input::Lock { file, format, how } => (file, format, how),
        other => {
            if !groups.is_empty() {
                anyhow::bail!(
                    "--group {} selects dependency groups of a lock file, and this build installs none \
                     (name one with --lock)",
                    groups.join(",")
                );
            }
            return Ok(match other {
                Input::Requirements { file, note } => Resolved {
                    requirements: Some(file),
                    lock: None,
                    note,
                },
                _ => Resolved::default(),
            });
        }
    };
    let platform = &interpreter.platform;
    let mut env = MarkerEnvironment::cpython(interpreter.version, &platform.machine);
    env.extras = extras.iter().filter(|e| !e.is_empty()).cloned().collect();
    env.dependency_groups = groups.clone();
    let target = Target {
        env,
        tags: crate::tags::compatible_tags(
            interpreter.version.1,
            &platform.machine,
            platform.glibc_minor,
        ),
        groups_named: !groups.is_empty(),
    };
    let name = file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let read = read_lock(&file, format, &target, &layout.source_dir)?;
    let artifacts = choose_artifacts(&read.packages, &target.tags, wheelhouse, downloading)
        .with_context(|| format!("installing the locked set of {}", file.display()))?;
    let note = format!(
        "installing the locked set of {name} ({how}): {} package(s) for Python {}.{} on {}",
        artifacts.len(),
        interpreter.version.0,
        interpreter.version.1,
        platform.machine
    );
    Ok(Resolved {
        requirements: Some(
            layout
                .work_dir
                .join(&layout.package)
                .join("locked-requirements.txt"),
        ),
        lock: Some(LockPlan {
            file,
            format,
            artifacts,
            warnings: read.warnings,
            how,
        }),
        note: Some(note),
    })
}
