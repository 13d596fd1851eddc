//! `dh_rustvenv_finish`, the late stage: takes what rules added to or changed in the venv after
//! dh_rustvenv through the same pipeline, and rewrites the outputs.
//!
//! Rules add to the venv after dh_rustvenv: an override target copies a program into `bin/`, the
//! staged interpreter is run to generate a file (and writes bytecode naming the staging path), a
//! `.install` file fills a directory. Run after dh_missing, and so after every override that can add
//! files, and before dh_strip, dh_shlibdeps and dh_md5sums, it compares the venv with the snapshot
//! and takes every entry added or changed since through the same stages; the audit and the
//! dependencies cover the whole venv again. It writes nothing for a package without a state
//! (dh_rustvenv did not build it).

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::debhelper::{Environment, Package, Reporter};
use crate::elf::no_strip;
use crate::options::Options;
use crate::outputs::Outputs;
use crate::pipeline::{process, write_outputs};
use crate::snapshot::Snapshot;
use crate::staging::{Kind, Transaction};
use crate::state::{State, state_files};

/// The late stage for one package: takes the entries of its venv that were added or changed since
/// dh_rustvenv ran through [`process`], and rewrites the outputs. Options given to it add to what
/// the state says (`--allow-leaks`, `--no-strip`, `--ignore-library`).
///
/// The venv is changed in a [`Transaction`]: on failure or interrupt it holds exactly what it held
/// before, and no output is written; a run that was killed is rolled back first.
///
/// # Errors
/// When the state cannot be read, when the venv directory leads out of the package build directory
/// ([`crate::staging::check_place`]), or as [`process`].
pub fn finish_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let work_dir = env.top.join(crate::layout::WORK_DIR).join(&package.name);
    if !reporter.no_act {
        // A run of either program that was killed is rolled back (or completed) before its state is
        // read.
        crate::staging::recover(&work_dir, &env.top)?;
    }
    let (state_file, snapshot_file) = state_files(&work_dir);
    let text = match fs::read_to_string(&state_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            reporter.verbose_print(format!(
                "# {}: no venv built by dh_rustvenv; nothing to finish",
                package.name
            ));
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_file.display())),
    };
    let mut state = State::from_json(&text, &env.top).with_context(|| {
        format!(
            "reading {} (written by dh_rustvenv; run the build again from a clean tree)",
            state_file.display()
        )
    })?;
    let explicit = !state.build_dir.starts_with(&env.top);
    crate::staging::check_place(&state.staging_root, &state.build_dir, &env.top, explicit)?;
    if reporter.no_act {
        return Ok(());
    }
    if !state.staging_root.is_dir() {
        reporter.warning(format!(
            "package {}: {} was removed after dh_rustvenv built it; nothing to finish",
            package.name,
            state.staging_root.display()
        ));
        return Ok(());
    }
    let earlier = Snapshot::from_text(
        &fs::read_to_string(&snapshot_file)
            .with_context(|| format!("reading {}", snapshot_file.display()))?,
    )
    .with_context(|| format!("reading {}", snapshot_file.display()))?;
    let now = reporter.timed(&package.name, "snapshot", || {
        Snapshot::take(&state.staging_root)
    })?;
    let changed: BTreeSet<PathBuf> = now
        .added_or_changed(&earlier, &state.staging_root)
        .into_iter()
        .collect();
    for path in &changed {
        reporter.verbose_print(format!(
            "# added or changed since dh_rustvenv: {}",
            path.strip_prefix(&state.staging_root)
                .unwrap_or(path)
                .display()
        ));
    }
    let settings = (
        state.allow_leaks,
        state.no_strip,
        state.ignore_library.clone(),
    );
    state.allow_leaks |= options.venv.allow_leaks;
    state.no_strip |= no_strip(env, options.venv.no_strip, reporter)?;
    for library in &options.venv.ignore_library {
        if !state.ignore_library.contains(library) {
            state.ignore_library.push(library.clone());
        }
    }
    if now == earlier
        && settings
            == (
                state.allow_leaks,
                state.no_strip,
                state.ignore_library.clone(),
            )
    {
        // Nothing added, changed or removed, and no option that changes the outcome: what
        // dh_rustvenv wrote stands.
        reporter.verbose_print(format!(
            "# {}: the venv is as dh_rustvenv left it; nothing to finish",
            package.name
        ));
        return Ok(());
    }
    let mut transaction =
        Transaction::begin(&state.staging_root, &work_dir, &env.top, Kind::Modify)?;
    let outcome = process(package, &state, Some(&changed), env, reporter)?;
    transaction.add_outside(&outcome.elf_report.debug_files)?;
    let mut outputs = Outputs::new();
    reporter.timed(&package.name, "outputs", || {
        write_outputs(&mut outputs, package, state, &outcome, &work_dir, reporter)
    })?;
    reporter.interrupts.check()?;
    reporter.timed(&package.name, "commit", || transaction.commit(outputs))
}
