//! `--download` and `--download-for` when the input is a lock file: the wheelhouse gets exactly the
//! locked artifacts of each target interpreter, each checked against its hash, and the build
//! requirements of the project and the locked sdists; nothing is resolved beyond the lock.
//!
//! Part of `download`, which hands over to it when the plan holds a lock.

use std::fs;

use anyhow::{Context, Result};

use crate::command::Command;
use crate::debhelper::Reporter;
use crate::install::InstallPlan;
use crate::install::lock::fetch::{Fetcher, artifacts_for};
use crate::install::venv::make_temp_dir;

use super::{download_venv, download_wheelhouse};
use crate::interpreter::Interpreter;
use crate::layout::Layout;
use crate::options::Options;

/// Fills the wheelhouse from the lock of `plan`: for the interpreter dh_rustvenv runs with
/// (`--download`), or for each target of `--download-for`. Prints how many files each target needed
/// and how many were fetched.
///
/// # Errors
/// When a download fails, a fetched file does not have the lock's hash (the message names it), the
/// lock has no artifact for a target, or pip cannot fetch the build requirements.
pub fn download_locked(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    options: &Options,
    package: &str,
    reporter: &Reporter,
) -> Result<()> {
    let lock = plan.lock.as_ref().expect("called with a lock");
    let wheelhouse = download_wheelhouse(layout, plan);
    let shown = wheelhouse
        .strip_prefix(&layout.top)
        .unwrap_or(&wheelhouse)
        .display()
        .to_string();
    if reporter.no_act {
        reporter.verbose_print(format!(
            "# would download the locked set of {} into {shown}",
            lock.name()
        ));
        return Ok(());
    }
    fs::create_dir_all(&wheelhouse)
        .with_context(|| format!("creating {}", wheelhouse.display()))?;
    make_temp_dir(plan)?;
    let python = download_venv(layout, interpreter, plan, reporter)?;
    let fetcher = Fetcher {
        layout,
        plan,
        reporter,
        python: &python,
        wheelhouse: &wheelhouse,
    };
    let context = || format!("filling the wheelhouse {shown} from {}", lock.name());
    let mut runs: Vec<(
        String,
        Vec<crate::install::lock::LockedArtifact>,
        Vec<String>,
    )> = Vec::new();
    if options.venv.download_for.is_empty() {
        runs.push((
            format!("Python {}", interpreter.major_minor()),
            lock.artifacts.clone(),
            Vec::new(),
        ));
    } else {
        let arch = Command::new("dpkg-architecture")
            .arg("-qDEB_HOST_ARCH")
            .query()
            .context("asking dpkg-architecture for the host architecture")?
            .trim()
            .to_owned();
        for target in &options.venv.download_for {
            let artifacts = artifacts_for(
                lock,
                target,
                &arch,
                &options.venv.extras,
                &options.venv.groups,
                &layout.source_dir,
                &wheelhouse,
            )
            .with_context(|| format!("{target}"))
            .with_context(context)?;
            let args = target
                .pip_args(&arch)
                .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
            runs.push((target.to_string(), artifacts, args));
        }
    }
    for (label, artifacts, args) in &runs {
        let fetched = fetcher.fetch(artifacts, args).with_context(context)?;
        fetcher
            .build_requirements(artifacts, args)
            .with_context(context)?;
        println!(
            "{}: the wheelhouse {shown} holds the {} locked file(s) of {} for {label} ({fetched} \
             downloaded), each with its hash, for {package}",
            crate::debhelper::TOOL,
            artifacts.len(),
            lock.name()
        );
    }
    Ok(())
}
