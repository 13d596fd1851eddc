//! `--download` and `--download-for`: fill the wheelhouse with every distribution the build needs,
//! so that the build itself runs offline.
//!
//! A program mode of its own, above the install stage: it uses the install plan, the install stage's
//! Python commands and compiler wrappers, and its reading of pip's messages.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::command::{Command, failure_summary};
use crate::debhelper::{Environment, Package, Reporter};
use crate::install::InstallPlan;
use crate::install::compilers::{with_compilers, write_compiler_wrappers};
use crate::install::messages::missing_distributions;
use crate::install::plan::{project_spec, requested};
use crate::install::residue::{remove_build_residue, source_tree_entries};
use crate::install::venv::{make_temp_dir, python_command};
use crate::interpreter::Interpreter;
use crate::layout::{Flavour, Layout};
use crate::options::Options;
use crate::wheelhouse::{self, DownloadTarget};

mod lock;

/// `--download`: fills the wheelhouse with every distribution the build needs, from the package index.
///
/// First `pip download` fetches the upgrades, `--preinstall` and the requirements file. Then, in a
/// scratch venv, `pip install --dry-run` resolves the whole build from the wheelhouse alone, as the
/// offline build will (sdists included, whose build backends pip installs from the wheelhouse too);
/// each distribution it reports missing is downloaded, until the dry run succeeds. Returns the
/// wheelhouse's files.
///
/// # Errors
/// When pip fails for another reason than a missing distribution, or the set is not complete after
/// 50 rounds.
pub fn download(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    reporter: &Reporter,
) -> Result<Vec<PathBuf>> {
    let wheelhouse = download_wheelhouse(layout, plan);
    if reporter.no_act {
        reporter.verbose_print(format!(
            "# would download what the build needs into {}",
            wheelhouse.display()
        ));
        return Ok(Vec::new());
    }
    fs::create_dir_all(&wheelhouse)
        .with_context(|| format!("creating {}", wheelhouse.display()))?;
    make_temp_dir(plan)?;
    let python = download_venv(layout, interpreter, plan, reporter)?;
    let compiler_env = write_compiler_wrappers(&plan.compilers)?;
    let pip = |verb: &str| {
        with_compilers(
            python_command(&python, plan).args(["-m", "pip", verb]),
            &plan.compilers,
            &compiler_env,
        )
    };
    let wanted = requested(plan);
    let download = |what: &[String]| {
        reporter
            .doit(
                &pip("download")
                    .arg("-d")
                    .arg(&wheelhouse)
                    .args(&plan.index_args)
                    .args(&plan.pip_args)
                    .args(what)
                    .dir(&layout.source_dir),
            )
            .with_context(|| format!("downloading {}", what.join(" ")))
    };
    if !wanted.is_empty() {
        download(&wanted)?;
    }
    let mut dry_run: Vec<String> = wanted.clone();
    if let Some(project) = &plan.project {
        dry_run.push(project_spec(project, &plan.extras));
    }
    for _ in 0..50 {
        let check = pip("install")
            .args(["--dry-run", "--ignore-installed", "--no-index"])
            .arg(format!("--find-links={}", wheelhouse.display()))
            .args(&dry_run)
            .dir(&layout.source_dir);
        reporter.verbose_print(check.display());
        // The dry run prepares the project's metadata (setuptools writes `*.egg-info` there).
        let protected = [layout.staging_root.as_path(), layout.work_dir.as_path()];
        let before = source_tree_entries(&layout.source_dir, &protected);
        let captured = check.capture();
        remove_build_residue(&layout.source_dir, &before, &protected)
            .context("removing what the dry run left in the source tree")?;
        let (succeeded, output) = captured?;
        if succeeded {
            return wheelhouse_files(&wheelhouse);
        }
        let error = failure_summary(output.as_bytes());
        let missing = missing_distributions(&output);
        if missing.is_empty() {
            eprintln!("{output}");
            bail!(
                "the wheelhouse {} cannot be completed: {error}",
                wheelhouse.display()
            );
        }
        download(&missing)?;
    }
    bail!(
        "the wheelhouse {} is still incomplete after 50 rounds of downloads",
        wheelhouse.display()
    )
}

/// The wheelhouse `--download` and `--download-for` fill: the planned one (with those options the
/// plan always names one), else `debian/wheelhouse`.
pub fn download_wheelhouse(layout: &Layout, plan: &InstallPlan) -> PathBuf {
    plan.wheelhouse
        .clone()
        .unwrap_or_else(|| layout.top.join("debian/wheelhouse"))
}

/// The files of the wheelhouse `dir`, sorted.
fn wheelhouse_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    Ok(files)
}

/// The venv pip runs from while the wheelhouse is filled, made anew with `interpreter` in the work
/// directory (never in the package); returns its python.
///
/// # Errors
/// When the old one cannot be removed or `python -m venv` fails.
fn download_venv(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    reporter: &Reporter,
) -> Result<PathBuf> {
    let scratch = layout.work_dir.join(&layout.package).join("download-venv");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("removing {}", scratch.display()))?;
    }
    reporter
        .doit(
            &python_command(&interpreter.path, plan)
                .args(["-m", "venv"])
                .arg(&scratch),
        )
        .with_context(|| {
            format!(
                "creating a venv for pip with {}",
                interpreter.path.display()
            )
        })?;
    Ok(scratch.join("bin/python"))
}

/// `--download-for`: fills the wheelhouse for each of `targets`, interpreters that need not be the one
/// dh_rustvenv runs with; returns the wheelhouse's files.
///
/// For each target, `pip download` takes what the build installs (the upgrades, `--preinstall`, the
/// requirements file and the build requirements in the project's `pyproject.toml`), with their
/// dependencies, as that interpreter's wheels only ([`DownloadTarget::pip_args`]). When a
/// distribution has no such wheel, each requirement is downloaded alone (`--no-deps`), as a wheel
/// where there is one and as its sdist otherwise; the output says which sdists the build will
/// compile, and their own build requirements are downloaded the same way. An offline `pip install
/// --dry-run --target` with the target's tags then checks the wheelhouse alone. When a target is the
/// interpreter dh_rustvenv runs with, [`download`] runs as well, which runs the build backends and
/// so also finds the build requirements they ask for only when run.
///
/// # Known limitations
/// pip evaluates environment markers (`; python_version < "3.12"`) for the interpreter it runs with,
/// not for the target. For a target dh_rustvenv does not run, the dependencies of a distribution
/// that has no wheel for it are not resolved (pin them in the requirements file, as a pinned set
/// does), and build requirements that a backend asks for only when run are not found.
///
/// # Errors
/// When the architecture has no manylinux wheels, when pip fails for another reason than a missing
/// wheel, or when the offline check fails: the message names the target and pip's error.
pub fn download_for(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    targets: &[DownloadTarget],
    reporter: &Reporter,
) -> Result<Vec<PathBuf>> {
    let wheelhouse = download_wheelhouse(layout, plan);
    let mut unique: Vec<&DownloadTarget> = Vec::new();
    for target in targets {
        if !unique.contains(&target) {
            unique.push(target);
        }
    }
    if reporter.no_act {
        for target in &unique {
            reporter.verbose_print(format!(
                "# would download what the build needs on {target} into {}",
                wheelhouse.display()
            ));
        }
        return Ok(Vec::new());
    }
    fs::create_dir_all(&wheelhouse)
        .with_context(|| format!("creating {}", wheelhouse.display()))?;
    let arch = Command::new("dpkg-architecture")
        .arg("-qDEB_HOST_ARCH")
        .query()
        .context("asking dpkg-architecture for the host architecture")?
        .trim()
        .to_owned();
    make_temp_dir(plan)?;
    let python = download_venv(layout, interpreter, plan, reporter)?;
    let compiler_env = write_compiler_wrappers(&plan.compilers)?;
    let shown = wheelhouse
        .strip_prefix(&layout.top)
        .unwrap_or(&wheelhouse)
        .display()
        .to_string();
    let context = TargetDownload {
        layout,
        plan,
        reporter,
        python: &python,
        compiler_env: &compiler_env,
        wheelhouse: &wheelhouse,
    };
    for target in &unique {
        let target_arch = target.arch.as_deref().unwrap_or(&arch);
        let tags = target
            .pip_args(target_arch)
            .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
        let (wheels, sdists) = context
            .fill(target, &tags)
            .with_context(|| format!("filling the wheelhouse {shown} for {target}"))?;
        println!(
            "{}: the wheelhouse {shown} holds what {target} needs: {wheels} wheel(s){}",
            crate::debhelper::TOOL,
            if sdists.is_empty() {
                String::new()
            } else {
                format!(
                    " and the sdist(s) {}, which the build compiles",
                    sdists.join(", ")
                )
            }
        );
        if target.python_minor == interpreter.version.1 && target_arch == arch {
            download(layout, interpreter, plan, reporter).with_context(|| {
                format!(
                    "checking the wheelhouse {shown} with {}, by an offline dry run",
                    interpreter.path.display()
                )
            })?;
        }
    }
    wheelhouse_files(&wheelhouse)
}

/// What filling the wheelhouse for one target needs: the pip of [`download_venv`] and where it puts
/// what it downloads.
struct TargetDownload<'a> {
    layout: &'a Layout,
    plan: &'a InstallPlan,
    reporter: &'a Reporter,
    python: &'a Path,
    compiler_env: &'a [(String, PathBuf)],
    wheelhouse: &'a Path,
}

impl TargetDownload<'_> {
    /// A pip command of the download venv, run in the source directory.
    fn pip(&self, verb: &str) -> Command {
        with_compilers(
            python_command(self.python, self.plan).args(["-m", "pip", verb]),
            &self.plan.compilers,
            self.compiler_env,
        )
        .dir(&self.layout.source_dir)
    }

    /// Runs `command` captured, echoed under verbose; its success and output.
    fn capture(&self, command: &Command) -> Result<(bool, String)> {
        self.reporter.verbose_print(command.display());
        self.reporter.interrupts.check()?;
        let (succeeded, output) = command.capture()?;
        if self.reporter.verbose {
            eprint!("{output}");
        }
        Ok((succeeded, output))
    }

    /// The build requirements of a project directory or an sdist ([`wheelhouse::BUILD_REQUIRES_PY`]).
    fn build_requires(&self, path: &Path) -> Result<Vec<String>> {
        let output = python_command(self.python, self.plan)
            .args(["-c", wheelhouse::BUILD_REQUIRES_PY])
            .arg(path)
            .query()
            .with_context(|| format!("reading the build requirements of {}", path.display()))?;
        Ok(output.lines().map(str::to_owned).collect())
    }

    /// Downloads everything the build needs on `target` (pip arguments `tags`); returns how many
    /// wheels that is and the names of the sdists among it.
    fn fill(&self, target: &DownloadTarget, tags: &[String]) -> Result<(usize, Vec<String>)> {
        let mut wanted = requested(self.plan);
        if let Some(project) = &self.plan.project {
            wanted.extend(self.build_requires(project)?);
        }
        let mut all_wanted = wanted.clone();
        let mut files = BTreeSet::new();
        let mut sdists = BTreeSet::new();
        let mut round = wanted;
        for _ in 0..20 {
            if round.is_empty() {
                break;
            }
            let got = self.fetch(target, tags, &round)?;
            let mut next = Vec::new();
            for file in got {
                if wheelhouse::is_sdist(&file) && !sdists.contains(&file) {
                    next.extend(self.build_requires(&self.wheelhouse.join(&file))?);
                    sdists.insert(file.clone());
                }
                files.insert(file);
            }
            next.retain(|r| !all_wanted.contains(r));
            all_wanted.extend(next.iter().cloned());
            round = next;
        }
        // The wheelhouse alone, offline, for the target, dependencies resolved again. An sdist would be
        // built here by this interpreter, not the target's: with sdists, the build is the check.
        if sdists.is_empty() {
            let check_dir = self
                .layout
                .work_dir
                .join(&self.layout.package)
                .join("download-check");
            let check = self
                .pip("install")
                .args(["--dry-run", "--ignore-installed", "--no-index"])
                .arg(format!("--find-links={}", self.wheelhouse.display()))
                .arg(format!("--target={}", check_dir.display()))
                .arg("--only-binary=:all:")
                .args(tags)
                .args(&all_wanted);
            let (succeeded, output) = self.capture(&check)?;
            if !succeeded {
                bail!(
                    "the offline check found it incomplete: {}",
                    failure_summary(output.as_bytes())
                );
            }
        }
        let wheels = files.iter().filter(|f| !wheelhouse::is_sdist(f)).count();
        Ok((wheels, sdists.into_iter().collect()))
    }

    /// `pip download` of `what` for `target`: with dependencies and wheels only, or, when a
    /// distribution has no wheel for the target, each requirement alone, as a wheel where there is one
    /// and as its sdist otherwise. Returns the file names pip reported.
    fn fetch(
        &self,
        target: &DownloadTarget,
        tags: &[String],
        what: &[String],
    ) -> Result<Vec<String>> {
        let download = |format: &[&str]| {
            self.pip("download")
                .arg("-d")
                .arg(self.wheelhouse)
                .args(format)
                .args(tags)
                .args(&self.plan.index_args)
                .args(&self.plan.pip_args)
                .args(what)
        };
        let (succeeded, output) = self.capture(&download(&["--only-binary=:all:"]))?;
        if succeeded {
            return Ok(wheelhouse::downloaded_files(&output));
        }
        let missing = missing_distributions(&output);
        if missing.is_empty() {
            bail!(
                "downloading {}: {}",
                what.join(" "),
                failure_summary(output.as_bytes())
            );
        }
        println!(
            "{}: no {target} wheel of {}: downloading each requirement alone, its sdist where it has no wheel",
            crate::debhelper::TOOL,
            missing.join(", ")
        );
        let (succeeded, output) = self.capture(&download(&["--no-deps", "--prefer-binary"]))?;
        if !succeeded {
            bail!(
                "downloading {} without dependencies: {}",
                what.join(" "),
                failure_summary(output.as_bytes())
            );
        }
        Ok(wheelhouse::downloaded_files(&output))
    }
}

/// `--download` and `--download-for`: fills the wheelhouse with what building `package`'s venv needs
/// (for the interpreter dh_rustvenv runs with, or for each target of `--download-for`), and builds
/// nothing.
///
/// # Errors
/// When the interpreter, pip or the package index fail, or the set cannot be completed.
pub fn download_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let (layout, interpreter, plan) =
        crate::dh_rustvenv::prepare(package, options, env, Flavour::Rustvenv)?;
    let top = layout.top.clone();
    if plan.lock.is_some() {
        return lock::download_locked(
            &layout,
            &interpreter,
            &plan,
            options,
            &package.name,
            reporter,
        );
    }
    let files = if options.venv.download_for.is_empty() {
        download(&layout, &interpreter, &plan, reporter)?
    } else {
        download_for(
            &layout,
            &interpreter,
            &plan,
            &options.venv.download_for,
            reporter,
        )?
    };
    let wheelhouse = download_wheelhouse(&layout, &plan);
    println!(
        "{}: the wheelhouse {} holds {} distribution(s) for {}",
        crate::debhelper::TOOL,
        wheelhouse
            .strip_prefix(&top)
            .unwrap_or(&wheelhouse)
            .display(),
        files.len(),
        package.name
    );
    Ok(())
}
