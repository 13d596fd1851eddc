//! The install stage: creates the venv in the staging tree and installs into it with pip or uv.
//!
//! Takes a [`Layout`] and an [`Interpreter`]. [`plan()`] checks the inputs and writes nothing; [`build`]
//! runs `python3.X -m venv` at `layout.staging_root`, then pip for the `--preinstall` requirements, the
//! requirements file and the source package itself (built by its PEP 517 backend), in that order. It
//! writes only under `staging_root` and the pip cache under `debian/.debhelper/`; files that building the
//! source package leaves in the source tree (setuptools' `build/` and `*.egg-info`) are removed again.
//! The next stage can rely on a complete venv at `staging_root` whose scripts still name it, and on no
//! bytecode having been compiled by pip.
//!
//! Its files, each using only those listed before it:
//! - `compilers`: the compilers and build flags extension modules are built with, and the wrapper
//!   that keeps the sdist's random build directory out of them;
//! - `lock`: lock files (`pylock.toml`, `uv.lock`, `poetry.lock`) read for the target, the input
//!   chosen (a requirements file or a lock), each locked artifact checked in the wheelhouse;
//! - `plan`: [`InstallPlan`], what will be installed, checked before anything is written;
//! - `messages`: reading pip's error output (hash-checking failures, missing distributions);
//! - `residue`: running a command and removing what it left in the source tree;
//! - `cross`: a cross build's install with pip, the host's wheels through `--target`;
//! - `venv`: the environment of every Python command, and the installer calls (pip or uv);
//! - `test_run`: `--test`, the source package's tests in the staged venv;
//! - this file: [`build`], the stage in order;
//! - `fixtures` (tests only): the layout, interpreter, environment and options the unit tests share.
//!
//! `--download` and `--download-for` (`crate::download`) use the plan, the commands, the
//! compiler wrappers, the residue removal and the messages.

pub(crate) mod compilers;
mod cross;
pub mod lock;
pub(crate) mod messages;
pub(crate) mod plan;
pub(crate) mod residue;
mod test_run;
pub(crate) mod venv;

#[cfg(test)]
mod fixtures;

use anyhow::{Context, Result};

use crate::debhelper::Reporter;
use crate::interpreter::Interpreter;
use crate::layout::Layout;

pub use compilers::Compilers;
pub use plan::{InstallPlan, InstallerCommand, PipRunner, TestCommand, UvSource, plan};
use test_run::run_tests;
use venv::{install_distributions, make_temp_dir, prepare_cache_dir, python_command};

/// Creates the venv at `layout.staging_root` and installs the plan into it.
///
/// Every Python command runs with `PYTHONDONTWRITEBYTECODE=1` and every pip call with `--no-compile`,
/// so no bytecode naming the staging path is written; `PIP_CACHE_DIR` points into the build tree, to
/// the cache of this wheelhouse's files (the caches of earlier runs, of other files, are removed).
///
/// # Errors
/// When venv creation or a pip call fails: the message says which step ("installing requirements.txt")
/// and ends with the tool's last error line.
pub fn build(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    reporter: &Reporter,
) -> Result<()> {
    let staging = &layout.staging_root;
    let package = &layout.package;
    if let Some(note) = &plan.input_note {
        reporter.note(format!("package {package}: {note}"));
    }
    if let Some(lock) = &plan.lock {
        for warning in &lock.warnings {
            reporter.warning(format!("package {package}: {}: {warning}", lock.name()));
        }
    }
    if !reporter.no_act {
        make_temp_dir(plan)?;
        prepare_cache_dir(plan)?;
        if let (Some(lock), Some(requirements)) = (&plan.lock, &plan.requirements) {
            lock.write_requirements(requirements)?;
        }
    }
    let without_pip: &[&str] = if plan.with_pip {
        &[]
    } else {
        &["--without-pip"]
    };
    reporter
        .timed(package, "venv", || {
            reporter.doit(
                &python_command(&interpreter.path, plan)
                    .args(["-m", "venv"])
                    .args(without_pip)
                    .args(&plan.venv_args)
                    .arg(staging),
            )
        })
        .with_context(|| format!("creating the venv with {}", interpreter.path.display()))?;
    reporter.timed(package, "install", || {
        install_distributions(layout, interpreter, plan, reporter)
    })?;
    if let Some(tests) = &plan.tests {
        reporter.timed(package, "tests", || {
            run_tests(layout, plan, tests, reporter)
        })?;
    }
    Ok(())
}
