//! `dh_rustvenv`: reads the options and the debhelper environment, runs the pipeline once for every
//! selected package, and prints any error once, in debhelper's shape, with exit status 255.
//!
//! One program, three names: `dh_rustvenv` builds the venv; `dh_rustvenv_finish`, the late stage,
//! takes what rules added to it afterwards ([`dh_rustvenv::finish`]); `dh_virtualenv`, installed by
//! the dh-virtualenv drop-in, builds it with dh_virtualenv's defaults ([`Flavour::DhVirtualenv`]).

use std::process::ExitCode;

use dh_rustvenv::debhelper::{self, Environment, Reporter};
use dh_rustvenv::layout::Flavour;
use dh_rustvenv::options;

/// The name of the late stage's program.
const FINISH: &str = "dh_rustvenv_finish";

fn main() -> ExitCode {
    let env = Environment::from_process();
    let program = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| debhelper::TOOL.to_owned());
    let flavour = Flavour::of_program(&program);
    let fail = |message: &str| fail(&program, message);
    let args: Vec<String> = std::env::args().skip(1).collect();
    // dh passes its own options to the commands an override target runs through
    // DH_INTERNAL_OPTIONS. dh_virtualenv 1.2.2 never read it (only DH_OPTIONS), so in an
    // override_dh_virtualenv the options given to dh were lost; the drop-in keeps it so, lest a
    // build start doing what it never did (--upgrade-pip offline, say). dh_listpackages still reads
    // the package selection there.
    let dh_internal_options = match flavour {
        Flavour::DhVirtualenv => None,
        Flavour::Rustvenv => env.dh_internal_options.as_deref(),
    };
    let invocation = match options::parse(&args, dh_internal_options, env.dh_options.as_deref()) {
        Ok(invocation) => invocation,
        Err(e) => return clap_exit(&program, e),
    };
    let mut invocation = invocation;
    if !invocation.stray.is_empty() {
        let words = invocation
            .stray
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if flavour != Flavour::DhVirtualenv {
            return fail(&format!(
                "unexpected argument {words}: only options are taken (`-i` is --indep and takes no \
                 value; an index is --index-url=URL)"
            ));
        }
        // dh_virtualenv 1.2.2 (optparse) collected such words and went on.
        invocation.warnings.push(format!(
            "ignoring {words}, which is no option, as dh_virtualenv 1.2.2 did (`-i` is --indep and \
             takes no value; an index is --index-url=URL)"
        ));
    }
    let compat_warnings = match options::apply_compat(&mut invocation.options) {
        Ok(warnings) => warnings,
        Err(message) => return fail(&message),
    };
    if let Err(message) = options::check_values(&invocation.options) {
        return fail(&message);
    }
    let mut variables = vec![
        ("DH_RUSTVENV_INSTALL_ROOT", env.install_root.as_deref()),
        (
            "DH_VIRTUALENV_INSTALL_ROOT",
            env.dh_virtualenv.install_root.as_deref(),
        ),
    ];
    if invocation.options.venv.buildsystem_destdir.is_some() {
        variables.push((
            "DH_VIRTUALENV_INSTALL_SUFFIX",
            env.dh_virtualenv.install_suffix.as_deref(),
        ));
    }
    for (name, value) in variables {
        if let Some(Err(message)) = value.map(|v| options::refuse_control_characters(name, v)) {
            return fail(&message);
        }
    }
    let options = &invocation.options;
    let mut ineffective: Vec<String> =
        options::ineffective(options, offline_wheelhouse(options, &env.top).as_deref());
    let interrupts = match dh_rustvenv::interrupt::Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(e) => return fail(&format!("{e:#}")),
    };
    let reporter = Reporter {
        verbose: options.debhelper.verbose || env.dh_verbose,
        no_act: options.debhelper.no_act || env.dh_no_act,
        quiet: env.dh_quiet || env.build_option("terse"),
        interrupts,
        timings: (options.venv.timings || env.timings).then(|| program.clone()),
    };
    for warning in invocation
        .warnings
        .iter()
        .chain(&compat_warnings)
        .chain(&ineffective)
    {
        reporter.warning(warning);
    }
    let destdir = options.venv.buildsystem_destdir.as_deref();
    if destdir.is_some() && (flavour != Flavour::DhVirtualenv || program == FINISH) {
        return fail(
            "--buildsystem-destdir is given by the dh_virtualenv build system of the \
             dh-rustvenv-virtualenv package to dh_virtualenv; use dh $@ --buildsystem=dh_virtualenv",
        );
    }
    if destdir.is_none() && program != FINISH {
        sequence_ignores(&env, flavour, &reporter);
    }
    if env.top.as_os_str().is_empty() {
        return fail(
            "cannot read the current directory; run it from the top of the source package",
        );
    }
    let packages = match debhelper::selected_packages(
        &env.top,
        &invocation.selection_args,
        &invocation.selection_dh_options,
        options.debhelper.tmpdir.as_deref(),
    ) {
        Ok(packages) => match destdir {
            Some(destdir) => dh_rustvenv::buildsystem::destdir_package(packages, destdir, &env.top),
            None => packages,
        },
        Err(e) => return fail(&format!("{e:#}")),
    };
    for package in &packages {
        let package_options = match package_options(&invocation, package, &env.top) {
            Ok(package_options) => package_options,
            Err(message) => return fail(&format!("package {}: {message}", package.name)),
        };
        let options = package_options.as_ref().unwrap_or(options);
        // A package's configuration file can make an option ineffective too: say so once.
        for warning in
            options::ineffective(options, offline_wheelhouse(options, &env.top).as_deref())
        {
            if !ineffective.contains(&warning) {
                reporter.warning(format!("package {}: {warning}", package.name));
                ineffective.push(warning);
            }
        }
        let result = reporter.timed(&package.name, "total", || {
            if program == FINISH {
                dh_rustvenv::dh_rustvenv_finish::finish_package(package, options, &env, &reporter)
            } else if options.venv.downloads() {
                dh_rustvenv::download::download_package(package, options, &env, &reporter)
            } else {
                dh_rustvenv::dh_rustvenv::build_package(package, options, &env, &reporter, flavour)
            }
        });
        if let Err(e) = result {
            let status = fail(&format!("package {}: {e:#}", package.name));
            return match e.downcast_ref::<dh_rustvenv::interrupt::Interrupted>() {
                Some(interrupted) => ExitCode::from(interrupted.exit_status()),
                None => status,
            };
        }
    }
    if let Some(interrupted) = reporter.interrupts.received() {
        // The signal came after the last command: what was built is complete, the run is not.
        let _ = fail("interrupted after the last package was done");
        return ExitCode::from(interrupted.exit_status());
    }
    ExitCode::SUCCESS
}

/// Says which of dh-virtualenv's build-system variables are set and not read: dh-virtualenv 1.2.2's
/// `dh_virtualenv` reads none of them, so neither does a sequence run. The drop-in says it under
/// `--verbose`, as it only does what dh_virtualenv did; dh_rustvenv warns, once for the run.
fn sequence_ignores(env: &Environment, flavour: Flavour, reporter: &Reporter) {
    let ignored = dh_rustvenv::buildsystem::set_variables(&env.dh_virtualenv);
    if ignored.is_empty() {
        return;
    }
    let names = ignored.join(", ");
    match flavour {
        Flavour::DhVirtualenv => reporter.verbose_print(format!(
            "# {names}: read only by dh-virtualenv's build system (--buildsystem=dh_virtualenv); \
             ignored, as dh_virtualenv 1.2.2 ignores them"
        )),
        Flavour::Rustvenv => reporter.warning(format!(
            "{names}: read only by dh-virtualenv's build system (--buildsystem=dh_virtualenv), so \
             ignored; use dh_rustvenv's options (--python, --requirements, --extra-pip-arg, \
             --install-suffix, --upgrade-pip-to) instead"
        )),
    }
}

/// The options of a package with a configuration file (None without one: the common options apply).
fn package_options(
    invocation: &options::Invocation,
    package: &debhelper::Package,
    top: &std::path::Path,
) -> Result<Option<options::Options>, String> {
    let Some(path) = &package.config_file else {
        return Ok(None);
    };
    let words =
        debhelper::read_package_config(path, &package.name, top).map_err(|e| format!("{e:#}"))?;
    let mut options = invocation.for_package(&words).map_err(|e| {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default().to_owned();
        format!(
            "{}: {}",
            package.shown(path),
            first.strip_prefix("error: ").unwrap_or(&first)
        )
    })?;
    options::apply_compat(&mut options)
        .and_then(|_| options::check_values(&options))
        .map_err(|message| format!("{}: {message}", package.shown(path)))?;
    Ok(Some(options))
}

/// The wheelhouse an install with `options` is offline from, as the user names it (relative to the
/// top of the source package `top`): `--wheelhouse`, else debian/wheelhouse when it exists; None for
/// `--download`, which fills it from the index. The install plan (`install::plan`) decides the same.
fn offline_wheelhouse(
    options: &options::Options,
    top: &std::path::Path,
) -> Option<std::path::PathBuf> {
    if options.venv.downloads() {
        return None;
    }
    match &options.venv.wheelhouse {
        Some(named) => Some(named.clone()),
        None => {
            let default = std::path::Path::new("debian/wheelhouse");
            top.join(default).is_dir().then(|| default.to_path_buf())
        }
    }
}

/// Prints `<program>: error: <message>` and returns debhelper's error status (`Dh_Lib.pm`, `error`).
fn fail(program: &str, message: &str) -> ExitCode {
    eprintln!("{program}: error: {message}");
    ExitCode::from(255)
}

/// `--help` and `--version` print and succeed; a usage error becomes one debhelper-style line.
fn clap_exit(program: &str, error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            fail(program, &format!("{first}; see {program} --help"))
        }
    }
}
