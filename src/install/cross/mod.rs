//! Installing into the venv of a cross build with pip: the host architecture's wheels, chosen with
//! pip's `--platform` options, which pip accepts only with `--target`.
//!
//! Each installer step (the upgrades, `--preinstall`, the requirements file, the project) is
//! resolved by `pip install --dry-run --report` with `--only-binary=:all: --platform …`
//! ([`CrossTarget::pip_args`]) and what the venv holds pinned; what pip chose is then installed with
//! `pip install --target <scratch> --no-deps`, and [`merge_into_venv`] moves it into the venv where
//! a native install puts it:
//! modules into `lib/python3.X/site-packages`, console scripts into `bin/` (pip wrote them for the
//! venv's interpreter, as in a native install), data and headers under the venv, each RECORD's rows
//! rewritten for the new places. The project, and an sdist the host has no wheel of, are built as
//! wheels on the build machine first (`pip wheel --no-deps`): a pure-Python wheel (`none-any`) is
//! installed like any other; one with compiled code stops the build with a message that names the
//! distribution and the wheel it needs.
//!
//! # Known limitations
//! pip evaluates environment markers (`platform_machine`) for the build machine, not the host; uv
//! (`--installer uv`, `--python-platform`) evaluates them for the host. Compiling an sdist for the
//! host with the cross toolchain (`_PYTHON_HOST_PLATFORM`, the host's sysconfig) is not attempted.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::compilers::with_compilers;
use super::messages::missing_distributions;
use super::plan::{InstallPlan, InstallerCommand, PipRunner};
use super::residue::doit_without_residue;
use super::venv::python_command;
use crate::command::Command;
use crate::cross::CrossTarget;
use crate::debhelper::Reporter;
use crate::interpreter::Interpreter;
use crate::layout::Layout;
use crate::tags::WheelName;

mod merge;
mod report;

use merge::merge_into_venv;
use merge::project_name;
use report::{Resolved, installed_distributions, read_report};

/// What the cross installer's steps share.
pub(super) struct CrossInstall<'a> {
    /// The build's layout.
    pub layout: &'a Layout,
    /// The build machine's interpreter (the venv's).
    pub interpreter: &'a Interpreter,
    /// The plan.
    pub plan: &'a InstallPlan,
    /// The host.
    pub target: &'a CrossTarget,
    /// Where distributions come from (`--no-index --find-links`, or the index arguments).
    pub sources: &'a [String],
    /// The compiler wrappers' environment.
    pub compiler_env: &'a [(String, PathBuf)],
    /// The reporter.
    pub reporter: &'a Reporter,
}

impl CrossInstall<'_> {
    /// The venv's site-packages.
    fn site_packages(&self) -> PathBuf {
        self.layout.staging_root.join(format!(
            "lib/python{}/site-packages",
            self.interpreter.major_minor()
        ))
    }

    /// The package's directory in the work directory.
    fn work(&self) -> PathBuf {
        self.layout.work_dir.join(&self.layout.package)
    }

    /// Where wheels built on the build machine (the project's, pure-Python sdists') are put, and
    /// found again (`--find-links`).
    fn built_wheels(&self) -> PathBuf {
        self.work().join("cross-wheels")
    }

    /// A pip command of `verb` run by the venv's interpreter, as the native install runs pip.
    fn pip(&self, verb: &str) -> Result<Command> {
        let python = self.layout.staging_root.join("bin/python");
        let command = python_command(&python, self.plan);
        let command = if self.plan.with_pip {
            command.args(["-m", "pip", verb])
        } else {
            match &self.plan.installer {
                InstallerCommand::Pip(PipRunner::Interpreter(runner)) => {
                    command.arg(runner).arg(verb)
                }
                InstallerCommand::Pip(PipRunner::Wheel(wheel)) => {
                    command.arg(wheel.join("pip")).arg(verb)
                }
                _ => bail!(
                    "{} has neither pip 22.3 or later nor a pip wheel to install with; install \
                     python3-pip, or pass --with-pip or --installer uv",
                    self.interpreter.path.display()
                ),
            }
        };
        Ok(with_compilers(command, &self.plan.compilers, self.compiler_env).args(self.sources))
    }

    /// Installs the plan for the host: each step into a scratch directory with the host's tags,
    /// then into the venv.
    ///
    /// # Errors
    /// When pip fails, when the project or an sdist has compiled code (the message names it and the
    /// wheel a cross build needs), or when a file cannot be moved into the venv.
    pub(super) fn install(&self) -> Result<()> {
        if self.plan.pip_tool.is_some() {
            bail!(
                "--pip-tool cannot install for another architecture; a cross build installs with pip \
                 or uv (--installer uv)"
            );
        }
        if !self.reporter.no_act {
            let built = self.built_wheels();
            if built.exists() {
                fs::remove_dir_all(&built)
                    .with_context(|| format!("removing {}", built.display()))?;
            }
            fs::create_dir_all(&built).with_context(|| format!("creating {}", built.display()))?;
        }
        if !self.plan.upgrades.is_empty() {
            let mut args = vec!["--upgrade".to_owned()];
            args.extend(self.plan.requirements_pip_args.iter().cloned());
            args.extend(self.plan.upgrades.iter().cloned());
            // An upgrade replaces what the venv holds: its versions are not pinned.
            let step = format!("upgrading {}", self.plan.upgrades.join(", "));
            self.step(&step, &args, false)?;
        }
        if !self.plan.preinstall.is_empty() {
            let mut args = self.plan.pip_args.clone();
            args.extend(self.plan.preinstall.iter().cloned());
            self.step("installing the --preinstall requirements", &args, true)?;
        }
        // A lock's set is complete: nothing is resolved beyond it, as in a native install.
        let no_deps: Vec<String> = self
            .plan
            .lock
            .iter()
            .map(|_| "--no-deps".to_owned())
            .collect();
        if let Some(requirements) = &self.plan.requirements {
            let name = match &self.plan.lock {
                Some(lock) => lock.name(),
                None => requirements
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            };
            let mut args = self.plan.pip_args.clone();
            args.extend(no_deps.iter().cloned());
            args.extend(self.plan.requirements_pip_args.iter().cloned());
            if self.plan.require_hashes {
                args.push("--require-hashes".to_owned());
            }
            args.push("-r".to_owned());
            args.push(requirements.display().to_string());
            self.step(&format!("installing {name}"), &args, true)?;
        }
        if let Some(project) = &self.plan.project {
            let step = format!("installing the source package from {}", project.display());
            let wheel = self
                .build_wheel(project, project)
                .with_context(|| step.clone())?;
            let mut args = self.plan.pip_args.clone();
            args.extend(no_deps.iter().cloned());
            let spec = if self.plan.extras.is_empty() {
                wheel.display().to_string()
            } else {
                format!("{}[{}]", wheel.display(), self.plan.extras.join(","))
            };
            args.push(spec);
            self.step(&step, &args, true)?;
        }
        Ok(())
    }

    /// Builds `what` (a project directory or a requirement) as a wheel on the build machine, with
    /// no dependencies, run in `dir`; returns the wheel, which must be pure Python.
    ///
    /// # Errors
    /// When pip fails, or when the wheel holds compiled code: the message names the distribution
    /// and the wheel the host needs.
    fn build_wheel(&self, what: &Path, dir: &Path) -> Result<PathBuf> {
        let built = self.built_wheels();
        let before = wheels_in(&built);
        let command = self
            .pip("wheel")?
            .args(["--no-deps", "-w"])
            .arg(&built)
            .args(&self.plan.pip_args)
            .arg(what)
            .dir(dir);
        doit_without_residue(self.reporter, &command, dir, self.layout)??;
        if self.reporter.no_act {
            return Ok(built.join("project.whl"));
        }
        let new: Vec<PathBuf> = wheels_in(&built)
            .into_iter()
            .filter(|w| !before.contains(w))
            .collect();
        let wheel = match new.as_slice() {
            [one] => one.clone(),
            _ => bail!(
                "pip wheel built {} wheel(s) of {}, not one",
                new.len(),
                what.display()
            ),
        };
        let file_name = wheel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let pure = WheelName::parse(&file_name).is_some_and(|w| {
            w.tags
                .iter()
                .all(|t| t.abi == "none" && t.platform == "any")
        });
        if !pure {
            let _ = fs::remove_file(&wheel);
            let name = file_name.split('-').next().unwrap_or(&file_name).to_owned();
            bail!(
                "{name} has compiled code (it builds as {file_name} here), and a cross build for {} \
                 cannot compile it: cross builds need a wheel for {} (or another tag the host \
                 accepts); {}",
                self.target.architecture.host_arch,
                self.target.binary_tag(),
                self.how_to_get_a_wheel()
            );
        }
        Ok(wheel)
    }

    /// What to do when the host has no wheel of a distribution.
    fn how_to_get_a_wheel(&self) -> String {
        format!(
            "put the wheel in the wheelhouse (dh_rustvenv --download-for=3.{}@{} fetches the host's \
             wheels from the package index), or build on an {} machine",
            self.target.python_minor,
            self.target.architecture.host_arch,
            self.target.architecture.host_arch
        )
    }

    /// One installer step, in two pip runs with the host's tags and `args`. First `pip install
    /// --dry-run --target --report` resolves the step and says what it would install; pip's
    /// `--target` resolves as if nothing were installed, so unless `pinned` is false (an upgrade)
    /// a constraints file keeps what the venv holds at its version, as a native install keeps what
    /// satisfies the requirements, and what the venv holds at that version already is left out.
    /// Then `pip install --target <scratch> --no-deps` installs exactly the rest, and
    /// [`merge_into_venv`] moves it into the venv. A requirement with no wheel for the host is
    /// built from its sdist on the build machine when that gives a pure-Python wheel.
    ///
    /// # Known limitations
    /// A later step that needs another version of a distribution an earlier one installed (or
    /// `--with-pip`'s pip and setuptools, when the wheelhouse has not that version) fails to
    /// resolve, where a native install would replace it.
    fn step(&self, step: &str, args: &[String], pinned: bool) -> Result<()> {
        let scratch = self.work().join("cross-target");
        let built = self.built_wheels();
        let report = self.work().join("cross-report.json");
        let constraints = self.work().join("cross-constraints.txt");
        let installed = installed_distributions(&self.site_packages())?;
        let resolve = self
            .pip("install")?
            .args(["--dry-run", "--quiet", "--report"])
            .arg(&report)
            .arg("--target")
            .arg(&scratch)
            .args(self.target.pip_args())
            .arg(format!("--find-links={}", built.display()))
            .arg("-c")
            .arg(&constraints)
            .args(args)
            .dir(&self.layout.source_dir);
        if self.reporter.no_act {
            self.reporter.verbose_print(resolve.display());
            return Ok(());
        }
        let pins: String = installed
            .iter()
            .filter(|_| pinned)
            .map(|(name, version)| format!("{name}=={version}\n"))
            .collect();
        fs::write(&constraints, pins)
            .with_context(|| format!("writing {}", constraints.display()))?;
        let mut resolved = None;
        for _ in 0..20 {
            self.reporter.verbose_print(resolve.display());
            self.reporter.interrupts.check()?;
            let (succeeded, output) = resolve.capture()?;
            if self.reporter.verbose {
                eprint!("{output}");
            }
            if succeeded {
                resolved = Some(read_report(&report)?);
                break;
            }
            let missing = missing_distributions(&output);
            if missing.is_empty() {
                eprint!("{output}");
                bail!(
                    "{step}: pip exited with an error resolving for {}: {}",
                    self.target.architecture.host_arch,
                    crate::command::failure_summary(output.as_bytes())
                );
            }
            for requirement in &missing {
                let requirement_path = PathBuf::from(requirement);
                let built_one = self.build_wheel(&requirement_path, &self.layout.source_dir);
                if let Err(error) = built_one {
                    let compiled = format!("{error:#}").contains("has compiled code");
                    if compiled {
                        return Err(error.context(step.to_owned()));
                    }
                    bail!(
                        "{step}: {requirement} has no wheel for {} and no sdist that builds here; \
                         cross builds need a wheel for {} (or another tag the host accepts); {}",
                        self.target.architecture.host_arch,
                        self.target.binary_tag(),
                        self.how_to_get_a_wheel()
                    );
                }
            }
        }
        let Some(mut resolved) = resolved else {
            bail!("{step}: still missing wheels after 20 rounds of building sdists");
        };
        // What the venv holds at that version already stays as it is.
        resolved.retain(|r| {
            !installed.iter().any(|(name, version)| {
                *name == project_name(&r.name.replace('-', "_")) && *version == r.version
            })
        });
        if resolved.is_empty() {
            return Ok(());
        }
        if scratch.exists() {
            fs::remove_dir_all(&scratch)
                .with_context(|| format!("removing {}", scratch.display()))?;
        }
        let install = self
            .pip("install")?
            .args(["--no-compile", "--no-deps", "--target"])
            .arg(&scratch)
            .args(self.target.pip_args())
            .arg(format!("--find-links={}", built.display()))
            // Where the dry run found them: --extra-pip-arg's --find-links, say.
            .args(&self.plan.pip_args)
            .args(&self.plan.requirements_pip_args)
            .args(resolved.iter().map(Resolved::requirement))
            .dir(&self.layout.source_dir);
        self.reporter.doit(&install).with_context(|| {
            format!(
                "{step}: installing for {}",
                self.target.architecture.host_arch
            )
        })?;
        let unrequested: Vec<String> = resolved
            .iter()
            .filter(|r| !r.requested)
            .map(|r| r.name.clone())
            .collect();
        merge_into_venv(
            &scratch,
            &self.layout.staging_root,
            self.interpreter,
            &unrequested,
        )
        .with_context(|| format!("{step}: moving what pip installed into the venv"))
    }
}

/// What to tell the user when uv, installing for the host (`--python-platform`), refused a wheel it
/// built from an sdist on the build machine (`Failed to download and build `fastsum==1.0``, `The built
/// wheel `fastsum-1.0-cp311-cp311-linux_x86_64.whl` is not compatible with the target …`): the
/// distribution has compiled code, and the wheel the host needs. None for any other failure.
pub(super) fn uv_refused_build(error: &anyhow::Error, target: &CrossTarget) -> Option<String> {
    let output = match error.downcast_ref::<crate::command::CommandError>()? {
        crate::command::CommandError::Failed { output, .. } => output,
        crate::command::CommandError::NotStarted { .. } => return None,
    };
    let between = |text: &str, before: &str| -> Option<String> {
        let (_, rest) = text.split_once(before)?;
        rest.split('`').next().map(str::to_owned)
    };
    let built = between(output, "The built wheel `")?;
    if !output.contains("is not compatible with the target") {
        return None;
    }
    let requirement = between(output, "Failed to download and build `")
        .unwrap_or_else(|| built.split('-').next().unwrap_or(&built).to_owned());
    Some(format!(
        "{requirement} has compiled code (uv builds it as {built} here), and a cross build for {} \
         cannot compile it: cross builds need a wheel for {} (or another tag the host accepts); put \
         the wheel in the wheelhouse (dh_rustvenv --download-for=3.{}@{} fetches the host's wheels \
         from the package index), or build on an {} machine",
        target.architecture.host_arch,
        target.binary_tag(),
        target.python_minor,
        target.architecture.host_arch,
        target.architecture.host_arch
    ))
}

/// The wheels in `dir`, sorted.
fn wheels_in(dir: &Path) -> Vec<PathBuf> {
    let mut wheels: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheels.sort();
    wheels
}
