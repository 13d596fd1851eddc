//! `dh_rustvenv` (and the drop-in's `dh_virtualenv`): builds one package's venv and takes it through
//! the pipeline, all or nothing.

use anyhow::Result;

use crate::debhelper::{self, Environment, Package, Reporter};
use crate::layout::{Flavour, Layout};
use crate::options::Options;
use crate::outputs::Outputs;
use crate::staging::{Kind, Transaction};
use crate::state::State;
use crate::{buildsystem, bytecode, depends, install, interpreter, pipeline};

/// What both a build and `--download` start from: where the venv goes, the interpreter, and what to
/// install; nothing is written.
pub(crate) fn prepare(
    package: &Package,
    options: &Options,
    env: &Environment,
    flavour: Flavour,
) -> Result<(Layout, interpreter::Interpreter, install::InstallPlan)> {
    let build_system = options
        .venv
        .buildsystem_destdir
        .is_some()
        .then(|| buildsystem::Settings::from_env(&env.dh_virtualenv))
        .transpose()?;
    let layout = Layout::new(package, options, env, &env.top, flavour)?;
    let python = build_system
        .as_ref()
        .and_then(|b| b.python.as_deref())
        .unwrap_or(&options.venv.python);
    let mut interpreter = interpreter::probe(python, env.path.as_deref(), &env.top)?;
    // A cross build: wheels are chosen for the host architecture's machine and glibc, by the plan
    // and by everything after it.
    let cross = crate::debhelper::CrossArchitecture::detect(&env.architecture)?
        .map(|architecture| crate::cross::CrossTarget::new(architecture, &interpreter))
        .transpose()?;
    if let Some(cross) = &cross {
        interpreter.platform = cross.platform.clone();
    }
    let plan = install::plan(
        &layout,
        &options.venv,
        &interpreter,
        env,
        flavour,
        build_system.as_ref(),
    )?;
    Ok((layout, interpreter, plan))
}

/// Runs the whole pipeline for one package. Files already in the venv's directory (put there by
/// dh_install or an earlier override target) are kept, also by a second run, and go through every
/// stage with the rest. On failure or interrupt the venv directory holds exactly what it held before
/// the run, and no output (substvar, script snippet, lintian override, state) is written: see
/// [`crate::staging`].
///
/// # Errors
/// The first stage's error, with context naming the step.
pub fn build_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
    flavour: Flavour,
) -> Result<()> {
    let (layout, interpreter, plan) = prepare(package, options, env, flavour)?;
    reporter.verbose_print(format!(
        "# venv for {} at {} with {}",
        package.name,
        layout.final_root.display(),
        interpreter.path.display()
    ));
    if reporter.no_act {
        return install::build(&layout, &interpreter, &plan, reporter);
    }
    if options.venv.use_system_packages && !package.relations.names_python3_package() {
        // What the venv imports from the system's site-packages cannot be seen from the venv.
        reporter.warning(format!(
            "package {}: -S/--use-system-packages lets the venv import the system's Python packages, \
             but debian/control names no python3-* package in its Depends; add the ones the \
             application imports (python3-systemd, say), or they may be missing where it is installed",
            package.name
        ));
    }
    let no_strip = crate::elf::no_strip(env, options.venv.no_strip, reporter)?;
    let package_work_dir = layout.work_dir.join(&package.name);
    crate::staging::check_place(
        &layout.staging_root,
        &layout.build_dir,
        &layout.top,
        layout.build_dir_explicit,
    )?;
    let transaction = Transaction::begin(
        &layout.staging_root,
        &package_work_dir,
        &crate::elf::debug_package_dir(package).join("dbgsym-root"),
        &layout.top,
        Kind::Rebuild,
    )?;
    install::build(&layout, &interpreter, &plan, reporter)?;
    transaction.restore_preexisting()?;

    let interpreter_dependency = match depends::interpreter_dependency(&interpreter)? {
        Some(dependency) => Some(dependency),
        None => {
            reporter.warning(format!(
                "package {}: no Debian package ships {}, so the package cannot depend on the \
                 interpreter the venv needs; use --python with Debian's python3.X",
                layout.package,
                interpreter.path.display(),
            ));
            None
        }
    };
    let state = State {
        flavour,
        staging_root: layout.staging_root.clone(),
        build_dir: layout.build_dir.clone(),
        final_root: layout.final_root.clone(),
        top: layout.top.clone(),
        interpreter_dependency,
        ship_bytecode: options.venv.ship_bytecode,
        allow_leaks: options.venv.allow_leaks,
        no_strip,
        ignore_library: options.venv.ignore_library.clone(),
        recommends: options.venv.recommends.clone(),
        suggests: options.venv.suggests.clone(),
        substvars: Vec::new(),
        unstripped: Vec::new(),
        // The drop-in's packages hold what dh-virtualenv's hold: no SBOM in the venv.
        sbom: flavour == Flavour::Rustvenv && !options.venv.no_sbom,
        wheelhouse: plan.wheelhouse.clone(),
        source_date_epoch: env.source_date_epoch,
    };
    let outcome = pipeline::process(package, &state, None, env, reporter)?;

    // Every output, and only then is the venv kept.
    reporter.interrupts.check()?;
    let mut outputs = Outputs::new();
    let overrides = reporter.timed(&package.name, "outputs", || {
        pipeline::write_outputs(
            &mut outputs,
            package,
            state,
            &outcome,
            &package_work_dir,
            reporter,
        )
    })?;
    if let Some(user_overrides) = package.pkgfile("lintian-overrides") {
        let user_overrides = package.shown(&user_overrides);
        reporter.warning(format!(
            "package {}: dh_lintian will install {user_overrides} in place of the overrides dh_rustvenv \
             installs; add these lines to it:\n{overrides}",
            package.name
        ));
    }
    if !options.debhelper.no_scripts {
        let bytecode = if options.venv.ship_bytecode {
            bytecode::Bytecode::Ship
        } else {
            bytecode::Bytecode::CompileOnInstall
        };
        for (script, snippet) in
            bytecode::maintainer_scripts(&package.name, &layout.final_root, bytecode)
        {
            debhelper::autoscript(&mut outputs, package, script, &snippet)?;
        }
    }
    reporter.interrupts.check()?;
    reporter.timed(&package.name, "commit", || transaction.commit(outputs))
}
