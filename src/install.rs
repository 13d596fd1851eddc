//! Creates the venv in the staging tree and installs into it with pip.
//!
//! Takes a [`Layout`] and an [`Interpreter`]. [`plan`] checks the inputs and writes nothing; [`build`]
//! runs `python3.X -m venv` at `layout.staging_root`, then pip for the `--preinstall` requirements, the
//! requirements file and the source package itself (built by its PEP 517 backend), in that order. It
//! writes only under `staging_root` and the pip cache under `debian/.debhelper/`; files that building the
//! source package leaves in the source tree (setuptools' `build/` and `*.egg-info`) are removed again.
//! The next stage can rely on a complete venv at `staging_root` whose scripts still name it, and on no
//! bytecode having been compiled by pip.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::command::Command;
use crate::debhelper::{Environment, Reporter};
use crate::interpreter::Interpreter;
use crate::layout::{Flavour, Layout};
use crate::options::{Installer, VenvOptions};
use crate::wheelhouse::{self, DownloadTarget};

/// What will be installed into a venv, checked before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// Arguments of the venv creation beyond the path: `--system-site-packages`, then
    /// `--extra-virtualenv-arg`s.
    pub venv_args: Vec<String>,
    /// Installed first, with `pip install --upgrade` and the index arguments only, as dh_virtualenv
    /// does: `pip` or `pip==VERSION` (`--upgrade-pip`, `--upgrade-pip-to`, `DH_UPGRADE_*`).
    pub upgrades: Vec<String>,
    /// Requirements installed next, one pip call (`--preinstall`).
    pub preinstall: Vec<String>,
    /// The requirements file (absolute), when there is one to install.
    pub requirements: Option<PathBuf>,
    /// Whether the requirements file is installed in pip's hash-checking mode (`--require-hashes`).
    pub require_hashes: bool,
    /// The source package's directory (absolute), unless `--skip-install`.
    pub project: Option<PathBuf>,
    /// Its extras (`--extras`).
    pub extras: Vec<String>,
    /// The program of the venv's bin/ that installs the requirements file and the project, instead of
    /// pip (`--pip-tool`).
    pub pip_tool: Option<String>,
    /// Where packages come from, given to every installer call: `--index-url`, `--extra-index-url`.
    pub index_args: Vec<String>,
    /// Given to every installer call but the upgrades: `--extra-pip-arg`s.
    pub pip_args: Vec<String>,
    /// Given to the upgrades and the requirements install only: `DH_PIP_EXTRA_ARGS` of dh-virtualenv's
    /// build system, which gives them to neither `--preinstall` (it has none) nor `pip install .`
    /// (`Buildsystem/dh_virtualenv.pm`, `build` and `install`). Empty outside the build system.
    pub requirements_pip_args: Vec<String>,
    /// The wheelhouse (absolute): installs use only it (`--no-index --find-links`), `--download`
    /// fills it. None: the package index is used.
    pub wheelhouse: Option<PathBuf>,
    /// The tests run after the source package is installed (`--test`), unless `nocheck`.
    pub tests: Option<TestCommand>,
    /// pip's or uv's cache, inside the build tree so it lands neither in the package nor in `$HOME`.
    pub cache_dir: PathBuf,
    /// The temporary directory of this build (`<work_dir>/<package>/tmp`), given to pip, uv, the build
    /// backends and the compilers as `TMPDIR`: pip unpacks sdists and builds wheels there
    /// (`pip-req-build-*`, `pip-build-env-*`), so whatever a build writes of those paths into a file
    /// names the source package's directory, which the audit looks for. Paths of `/tmp` found in the
    /// venv are then never this build's: they come from the machines upstream built its wheels on.
    pub temp_dir: PathBuf,
    /// What installs into the venv: pip or uv.
    pub installer: InstallerCommand,
    /// Whether the venv is created with pip in it (`python -m venv` running ensurepip): `--with-pip`,
    /// or the dh_virtualenv drop-in. Otherwise it is created with `--without-pip`, and holds pip only
    /// when the upgrades, `--preinstall` or the requirements install it.
    pub with_pip: bool,
    /// How extension modules are compiled when pip builds an sdist.
    pub compilers: Compilers,
}

/// The program behind every install into the venv (`--installer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallerCommand {
    /// pip. While the venv has no pip of its own, the interpreter's pip installs into it; once the
    /// venv has one, its own (`<venv>/bin/python -m pip install`), as dh_virtualenv does.
    Pip(PipRunner),
    /// `uv pip install --python <venv>/bin/python`.
    Uv(UvSource),
}

/// Where pip comes from while the venv has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipRunner {
    /// The interpreter's own pip, 22.3 or later (Debian's python3-pip):
    /// `python3.X -m pip --python <venv>/bin/python install`, which runs that pip with the venv's
    /// interpreter.
    Interpreter,
    /// The interpreter's pip wheel (python3-pip-whl), run by the venv's interpreter:
    /// `<venv>/bin/python <wheel>/pip install`; slower, as the wheel holds no bytecode.
    Wheel(PathBuf),
    /// Neither: the venv needs `--with-pip` or `--installer uv`.
    Missing,
}

/// Where uv comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UvSource {
    /// A uv wheel of the wheelhouse for this machine (`uv-<version>-py3-none-<platform>.whl`, which
    /// carries the binary as `uv-<version>.data/scripts/uv`): unpacked into the work directory, so
    /// that an offline build uses the uv the source package pins.
    Wheel(PathBuf),
    /// `uv` found on PATH.
    Path(PathBuf),
}

/// How `--test` runs the source package's tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestCommand {
    /// `python -m pytest -p no:cacheprovider` with the venv's interpreter.
    Pytest,
    /// A command for `/bin/sh -c`, with the venv's bin/ first in PATH (`--test-command`).
    Shell(String),
}

/// The compilers and flags extension modules are built with: Debian's build flags (hardening,
/// `-ffile-prefix-map`), and the compiler behind a wrapper that maps the directory it runs in to `.`.
///
/// pip unpacks each sdist in a directory with a random name (`/tmp/pip-install-*/<name>_<uuid>`);
/// without the mapping that name ends up in the debug information and the build-id, and no two builds
/// of the package are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compilers {
    /// The C compiler command the wrapper runs: `CC` from the environment, else the interpreter's own.
    pub cc: String,
    /// The C++ compiler command, likewise (`CXX`).
    pub cxx: String,
    /// `CFLAGS`, `CXXFLAGS`, `CPPFLAGS` and `LDFLAGS`: from the environment, else from
    /// `dpkg-buildflags --get` (dpkg-buildflags(1)).
    pub flags: Vec<(String, String)>,
    /// Where the wrappers are written: `<work_dir>/<package>/bin`.
    pub wrapper_dir: PathBuf,
}

/// Checks the requirements file and the source package and returns what to install.
///
/// By default `requirements.txt` in the source directory is installed when it exists; a file named with
/// `--requirements` must exist. The source package needs a `pyproject.toml` or a `setup.py` unless
/// `--skip-install` is given.
///
/// `build_system` is given in dh-virtualenv's build-system mode (`--buildsystem-destdir`): its
/// settings, from the build system's variables, add to the options (`DH_REQUIREMENTS_FILE` when
/// `--requirements` is not given). Without it, those variables are not read at all, as dh-virtualenv
/// 1.2.2's `dh_virtualenv` does not read them.
///
/// # Errors
/// When the named requirements file does not exist, or the source directory has no Python project and
/// `--skip-install` was not given (the messages name the file and the option that fixes it), or when
/// `dpkg-buildflags` cannot be run, or `--installer uv` finds no uv ([`find_uv`]).
pub fn plan(
    layout: &Layout,
    options: &VenvOptions,
    interpreter: &Interpreter,
    env: &Environment,
    flavour: Flavour,
    build_system: Option<&crate::buildsystem::Settings>,
) -> Result<InstallPlan> {
    let named_requirements = options
        .requirements
        .clone()
        .or_else(|| build_system.and_then(|b| b.requirements.clone()));
    let requirements = match &named_requirements {
        Some(named) => {
            let path = layout.source_dir.join(named);
            if !path.is_file() {
                bail!(
                    "requirements file {} not found (named with {}, relative to the source directory {})",
                    path.display(),
                    if options.requirements.is_some() {
                        "--requirements"
                    } else {
                        "DH_REQUIREMENTS_FILE"
                    },
                    layout.source_dir.display()
                );
            }
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            if file_name == "pylock.toml"
                || (file_name.starts_with("pylock.") && file_name.ends_with(".toml"))
            {
                bail!(
                    "{} is a PEP 751 lock file, which pip cannot install from (pip 25 can write one, not read \
                     it); export the locked set as a requirements file with hashes (uv export \
                     --format requirements-txt, pdm export) and name that with --requirements",
                    path.display()
                );
            }
            Some(path)
        }
        None => Some(layout.source_dir.join("requirements.txt")).filter(|p| p.is_file()),
    };
    let project = if options.skip_install {
        None
    } else {
        let dir = &layout.source_dir;
        if !dir.join("pyproject.toml").is_file() && !dir.join("setup.py").is_file() {
            bail!(
                "{} has no pyproject.toml or setup.py, so there is no Python project to install; pass \
                 --skip-install to install only the requirements, or -D/--sourcedirectory to name the \
                 project's directory",
                dir.display()
            );
        }
        Some(dir.clone())
    };
    let wheelhouse = match &options.wheelhouse {
        Some(named) => {
            let dir = layout.top.join(named);
            if !dir.is_dir() && !options.downloads() {
                bail!(
                    "wheelhouse {} not found (named with --wheelhouse); fill it with dh_rustvenv --download",
                    dir.display()
                );
            }
            Some(dir)
        }
        None => {
            Some(layout.top.join("debian/wheelhouse")).filter(|d| d.is_dir() || options.downloads())
        }
    };
    let tests = match (&options.test, &options.test_command) {
        (false, _) => None,
        (true, _) if env.build_option("nocheck") => None,
        (true, Some(command)) => Some(TestCommand::Shell(command.clone())),
        (true, None) => Some(TestCommand::Pytest),
    };
    let mut index_args = Vec::new();
    if let Some(url) = &options.index_url {
        index_args.push(format!("--index-url={url}"));
    }
    for url in &options.extra_index_url {
        index_args.push(format!("--extra-index-url={url}"));
    }
    let pip_args = options.extra_pip_arg.clone();
    let mut venv_args = Vec::new();
    if options.use_system_packages || build_system.is_some_and(|b| b.system_site_packages) {
        venv_args.push("--system-site-packages".to_owned());
    }
    venv_args.extend(options.extra_virtualenv_arg.iter().cloned());
    if let Some(build_system) = build_system {
        venv_args.extend(build_system.venv_args.iter().cloned());
    }
    let mut upgrades = Vec::new();
    match options.upgrade_pip_to.as_deref() {
        Some("latest") => upgrades.push("pip".to_owned()),
        Some(version) => upgrades.push(format!("pip=={version}")),
        None if options.upgrade_pip => upgrades.push("pip".to_owned()),
        None => {}
    }
    if let Some(build_system) = build_system {
        // The build system's upgrades, pip's unless an option already upgrades it.
        let pip_named = !upgrades.is_empty();
        upgrades.extend(
            build_system
                .upgrades
                .iter()
                .filter(|u| !(pip_named && (*u == "pip" || u.starts_with("pip=="))))
                .cloned(),
        );
    }
    let (installer, cache_dir) = match options.installer {
        Installer::Pip => {
            let pip_version = interpreter.pip_version.as_deref().map(|v| {
                v.split('.')
                    .map(|p| p.parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
            });
            let runner = match (pip_version, &interpreter.pip_wheel) {
                (Some(version), _) if version >= vec![22, 3] => PipRunner::Interpreter,
                (_, Some(wheel)) => PipRunner::Wheel(wheel.clone()),
                _ => PipRunner::Missing,
            };
            (InstallerCommand::Pip(runner), "pip-cache")
        }
        Installer::Uv => (
            InstallerCommand::Uv(find_uv(wheelhouse.as_deref())?),
            "uv-cache",
        ),
    };
    Ok(InstallPlan {
        installer,
        with_pip: options.with_pip || flavour == Flavour::DhVirtualenv,
        venv_args,
        upgrades,
        preinstall: options.preinstall.clone(),
        requirements,
        require_hashes: options.require_hashes,
        project,
        extras: options
            .extras
            .iter()
            .filter(|e| !e.is_empty())
            .cloned()
            .collect(),
        // pip itself under any of its names is the installer, whether or not the venv has a pip.
        pip_tool: options.pip_tool.clone().filter(|t| {
            let version = t.strip_prefix("pip").unwrap_or(t);
            !(t.starts_with("pip")
                && (version.is_empty()
                    || version == "3"
                    || version
                        .strip_prefix("3.")
                        .is_some_and(|minor| minor.parse::<u32>().is_ok())))
        }),
        index_args,
        pip_args,
        requirements_pip_args: build_system
            .map(|b| b.pip_extra_args.clone())
            .unwrap_or_default(),
        wheelhouse,
        tests,
        cache_dir: layout.work_dir.join(cache_dir),
        temp_dir: layout.work_dir.join(&layout.package).join("tmp"),
        compilers: compilers(layout, interpreter, env)?,
    })
}

/// Finds uv for `--installer uv`: the newest uv wheel in the wheelhouse built for this machine
/// (manylinux before musllinux), else `uv` on PATH.
///
/// # Errors
/// When there is neither; the message says how to add one.
pub fn find_uv(wheelhouse: Option<&Path>) -> Result<UvSource> {
    let machine = match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    };
    let mut wheels: Vec<(Vec<u64>, bool, PathBuf)> = Vec::new();
    if let Some(dir) = wheelhouse.filter(|d| d.is_dir()) {
        let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_prefix("uv-")
                .and_then(|n| n.strip_suffix(".whl"))
            else {
                continue;
            };
            // uv-<version>-<python tag>-<abi tag>-<platform tags, joined by dots> (PEP 427).
            let parts: Vec<&str> = stem.split('-').collect();
            let [version, _, _, platforms] = parts.as_slice() else {
                continue;
            };
            let fits = platforms.split('.').any(|tag| {
                (tag.starts_with("manylinux") || tag.starts_with("musllinux"))
                    && tag.ends_with(&format!("_{machine}"))
            });
            if fits {
                let numbers = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
                wheels.push((numbers, platforms.contains("manylinux"), entry.path()));
            }
        }
    }
    wheels.sort();
    if let Some((_, _, wheel)) = wheels.pop() {
        return Ok(UvSource::Wheel(wheel));
    }
    match which::which("uv") {
        Ok(path) => Ok(UvSource::Path(path)),
        Err(_) => bail!(
            "--installer uv: no uv wheel for {machine} in the wheelhouse{} and no uv on PATH; add one with \
             `pip download --only-binary=:all: --no-deps -d debian/wheelhouse uv==VERSION`, or install uv",
            wheelhouse
                .map(|d| format!(" {}", d.display()))
                .unwrap_or_default()
        ),
    }
}

/// Works out [`Compilers`] from the environment, the interpreter and `dpkg-buildflags`.
fn compilers(layout: &Layout, interpreter: &Interpreter, env: &Environment) -> Result<Compilers> {
    let setting = |name: &str| {
        env.compiler_settings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut flags = Vec::new();
    for name in ["CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"] {
        let value = match setting(name) {
            Some(value) => value,
            None => Command::new("dpkg-buildflags")
                .args(["--get", name])
                .dir(&layout.source_dir)
                .query()
                .with_context(|| format!("asking dpkg-buildflags for {name}"))?
                .trim()
                .to_owned(),
        };
        flags.push((name.to_owned(), value));
    }
    let or_default = |value: Option<String>, fallback: &str, default: &str| {
        value.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
            if fallback.is_empty() {
                default.to_owned()
            } else {
                fallback.to_owned()
            }
        })
    };
    Ok(Compilers {
        cc: or_default(setting("CC"), &interpreter.cc, "cc"),
        cxx: or_default(setting("CXX"), &interpreter.cxx, "c++"),
        flags,
        wrapper_dir: layout.work_dir.join(&layout.package).join("bin"),
    })
}

/// The shell script that runs `compiler` with the directory the sdist was unpacked in mapped to `.` in
/// file names: for pip, `<tmp>/pip-install-<random>/<name>_<uuid>` or `<tmp>/pip-req-build-<random>`,
/// found above the directory the compiler runs in (build systems such as CMake compile in a
/// subdirectory, with absolute paths); otherwise (uv unpacks into its cache,
/// `<cache>/sdists-v*/…/<random>/src`) the directory it runs in. The isolated build environment where
/// the headers of build requirements live (numpy, pybind11), pip's `<tmp>/pip-build-env-<random>` or
/// uv's `<cache>/builds-v*/.tmp<random>`, is mapped to `/pip-build-env`; the wrapper finds it on the
/// `PATH` the installer gives the build backend. The maps come after the compiler's other arguments,
/// so that they win over a map of a directory above (`dpkg-buildflags` maps the source package's top
/// to `.`, and uv's cache is under it): GCC applies the last matching map.
pub fn compiler_wrapper(compiler: &str) -> String {
    format!(
        r#"#!/bin/sh
# Written by dh_rustvenv: pip and uv build each sdist in a directory with a random name, against
# build requirements installed in another; map them to fixed names so that they reach neither the
# debug information nor the build-id of extension modules.
case $PATH in
*/pip-build-env-*)
	before=${{PATH%%/pip-build-env-*}}
	prefix=${{before##*:}}
	after=${{PATH#"$before"/pip-build-env-}}
	set -- "$@" -ffile-prefix-map="$prefix/pip-build-env-${{after%%/*}}"=/pip-build-env
	;;
*/builds-v*/.tmp*)
	before=${{PATH%%/.tmp*}}
	prefix=${{before##*:}}
	after=${{PATH#"$before"/.tmp}}
	set -- "$@" -ffile-prefix-map="$prefix/.tmp${{after%%/*}}"=/pip-build-env
	;;
esac
PWD=$(pwd -P)
export PWD
root=$PWD
case $PWD in
*/pip-install-*/*)
	prefix=${{PWD%%/pip-install-*}}
	rest=${{PWD#"$prefix"/}}
	first=${{rest%%/*}}
	rest=${{rest#*/}}
	root=$prefix/$first/${{rest%%/*}}
	;;
*/pip-req-build-*)
	prefix=${{PWD%%/pip-req-build-*}}
	rest=${{PWD#"$prefix"/}}
	root=$prefix/${{rest%%/*}}
	;;
esac
exec {compiler} "$@" -ffile-prefix-map="$root"=.
"#
    )
}

/// Writes the compiler wrappers; returns the environment that makes setuptools use them.
fn write_compiler_wrappers(compilers: &Compilers) -> Result<Vec<(String, PathBuf)>> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(&compilers.wrapper_dir)
        .with_context(|| format!("creating {}", compilers.wrapper_dir.display()))?;
    let mut env = Vec::new();
    for (name, file, compiler) in [("CC", "cc", &compilers.cc), ("CXX", "c++", &compilers.cxx)] {
        let path = compilers.wrapper_dir.join(file);
        fs::write(&path, compiler_wrapper(compiler))
            .with_context(|| format!("writing {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
        env.push((name.to_owned(), path));
    }
    Ok(env)
}

/// Creates the venv at `layout.staging_root` and installs the plan into it.
///
/// Every Python command runs with `PYTHONDONTWRITEBYTECODE=1` and every pip call with `--no-compile`,
/// so no bytecode naming the staging path is written; `PIP_CACHE_DIR` points into the build tree.
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
    if !reporter.no_act {
        make_temp_dir(plan)?;
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

/// Installs the upgrades, `--preinstall`, the requirements file and the source package into the venv
/// at `layout.staging_root`, each with one installer call, in that order.
fn install_distributions(
    layout: &Layout,
    interpreter: &Interpreter,
    plan: &InstallPlan,
    reporter: &Reporter,
) -> Result<()> {
    let staging = &layout.staging_root;
    let compiler_env = if reporter.no_act {
        Vec::new()
    } else {
        write_compiler_wrappers(&plan.compilers)?
    };
    let uv = match &plan.installer {
        InstallerCommand::Uv(source) => Some(uv_program(source, interpreter, layout, reporter)?),
        InstallerCommand::Pip { .. } => None,
    };
    let venv_python = staging.join("bin/python");
    let sources = match &plan.wheelhouse {
        Some(dir) => vec![
            "--no-index".to_owned(),
            format!("--find-links={}", dir.display()),
        ],
        None => plan.index_args.clone(),
    };
    let offline = |step: String| match &plan.wheelhouse {
        Some(dir) => format!(
            "{step} from the wheelhouse {} only (add what is missing with dh_rustvenv --download)",
            dir.strip_prefix(&layout.top).unwrap_or(dir).display()
        ),
        None => step,
    };
    // `--pip-tool`: `python bin/<tool> install`, as dh_virtualenv runs it; otherwise uv, the venv's
    // pip once it has one, or pip from the interpreter's wheel.
    let installer = |tool: Option<&str>, venv_has_pip: bool| -> Result<Command> {
        let command = match (tool, &uv, &plan.installer) {
            (Some(tool), _, _) => python_command(&venv_python, plan)
                .arg(staging.join("bin").join(tool))
                .arg("install"),
            (None, Some(uv), _) => uv_command(uv, plan, &venv_python),
            (None, None, _) if venv_has_pip => {
                python_command(&venv_python, plan).args(["-m", "pip", "install", "--no-compile"])
            }
            (None, None, InstallerCommand::Pip(PipRunner::Interpreter)) => {
                python_command(&interpreter.path, plan)
                    .args(["-m", "pip", "--python"])
                    .arg(&venv_python)
                    .args(["install", "--no-compile"])
            }
            (None, None, InstallerCommand::Pip(PipRunner::Wheel(wheel))) => {
                python_command(&venv_python, plan)
                    .arg(wheel.join("pip"))
                    .args(["install", "--no-compile"])
            }
            (None, None, _) => bail!(
                "{} has neither pip 22.3 or later nor a pip wheel to install with (Debian's \
                 python3-pip and python3-pip-whl ship them); install one, or pass --with-pip or \
                 --installer uv",
                interpreter.path.display()
            ),
        };
        Ok(with_compilers(command, plan, &compiler_env).args(&sources))
    };
    let mut venv_has_pip = plan.with_pip;
    if !plan.upgrades.is_empty() {
        reporter
            .doit(
                &installer(None, venv_has_pip)?
                    .arg("--upgrade")
                    .args(&plan.requirements_pip_args)
                    .args(&plan.upgrades),
            )
            .with_context(|| {
                let step = offline(format!("upgrading {}", plan.upgrades.join(", ")));
                if plan.wheelhouse.is_some() {
                    return step;
                }
                // dh_virtualenv does not give --extra-pip-arg to the upgrade (its #197), so the
                // --no-index/--find-links of an offline build do not reach it.
                format!(
                    "{step}: the upgrade does not get --extra-pip-arg (as with dh_virtualenv), so it \
                     looked for {} in the package index; to build offline, put the wheels in \
                     debian/wheelhouse or name their directory with --wheelhouse, which every pip \
                     call uses (dh_rustvenv --download fills it)",
                    plan.upgrades.join(", ")
                )
            })?;
        venv_has_pip |= plan
            .upgrades
            .iter()
            .any(|u| u == "pip" || u.starts_with("pip="));
    }
    if !plan.preinstall.is_empty() {
        reporter
            .doit(
                &installer(None, venv_has_pip)?
                    .args(&plan.pip_args)
                    .args(&plan.preinstall),
            )
            .with_context(|| offline("installing the --preinstall requirements".to_owned()))?;
    }
    // What --preinstall installed counts: a pip it pinned is the one to install the rest with.
    venv_has_pip |= !reporter.no_act && staging.join("bin/pip").exists();
    let installer = |tool: Option<&str>| installer(tool, venv_has_pip);
    let tool = plan.pip_tool.as_deref();
    if let Some(requirements) = &plan.requirements {
        let name = requirements
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let hashes: &[&str] = if plan.require_hashes {
            &["--require-hashes"]
        } else {
            &[]
        };
        let installed = reporter.doit(
            &installer(tool)?
                .args(&plan.pip_args)
                .args(&plan.requirements_pip_args)
                .args(hashes)
                .arg("-r")
                .arg(requirements)
                .dir(&layout.source_dir),
        );
        if let Err(e) = installed {
            if let Some(problem) =
                e.downcast_ref::<crate::command::CommandError>()
                    .and_then(|failed| match failed {
                        crate::command::CommandError::Failed { output, .. } => {
                            hash_problem(output, requirements)
                        }
                        crate::command::CommandError::NotStarted { .. } => None,
                    })
            {
                bail!("installing {name}: {problem}");
            }
            return Err(e).with_context(|| offline(format!("installing {name}")));
        }
    }
    if let Some(project) = &plan.project {
        let installer = installer(tool)?
            .args(&plan.pip_args)
            .arg(project_spec(project, &plan.extras))
            .dir(project);
        doit_without_residue(reporter, &installer, project, layout)?.with_context(|| {
            offline(format!(
                "installing the source package from {}",
                project.display()
            ))
        })?;
    }
    if uv.is_some() && !reporter.no_act {
        remove_uv_records(staging)?;
    }
    Ok(())
}

/// The uv executable to run: the one on PATH, or the one of the wheelhouse's uv wheel, unpacked once
/// into `<work_dir>/<package>/uv` with the interpreter's `zipfile` module.
///
/// # Errors
/// When the wheel cannot be unpacked or holds no `uv-*.data/scripts/uv`.
fn uv_program(
    source: &UvSource,
    interpreter: &Interpreter,
    layout: &Layout,
    reporter: &Reporter,
) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let wheel = match source {
        UvSource::Path(path) => return Ok(path.clone()),
        UvSource::Wheel(wheel) => wheel,
    };
    let dir = layout.work_dir.join(&layout.package).join("uv");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    reporter
        .doit(
            &Command::new(&interpreter.path)
                .args(["-I", "-m", "zipfile", "-e"])
                .arg(wheel)
                .arg(&dir),
        )
        .with_context(|| format!("unpacking {}", wheel.display()))?;
    if reporter.no_act {
        return Ok(dir.join("uv"));
    }
    let program = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("scripts/uv"))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "{} holds no uv-*.data/scripts/uv; is it uv's wheel?",
                wheel.display()
            )
        })?;
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", program.display()))?;
    Ok(program)
}

/// `uv pip install` into the venv of `venv_python`: files copied from uv's cache, never linked to it
/// (`--link-mode copy`), the cache in the build tree, no uv configuration file read and no interpreter
/// downloaded.
fn uv_command(uv: &Path, plan: &InstallPlan, venv_python: &Path) -> Command {
    python_command(uv, plan)
        .args(["pip", "install", "--python"])
        .arg(venv_python)
        .args(["--no-config", "--link-mode", "copy", "--cache-dir"])
        .arg(&plan.cache_dir)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_NO_PROGRESS", "1")
}

/// Removes what uv writes for itself: into dist-info directories, `uv_cache.json` (which holds the
/// time of the installation) and `uv_build.json`, which are no part of the installed distribution
/// (the core metadata specification; RECORD loses their rows when RECORD is updated), and the
/// venv's `.lock`, the lock file uv takes while it changes the venv.
fn remove_uv_records(staging_root: &Path) -> Result<()> {
    let lock = staging_root.join(".lock");
    if lock.is_file() {
        fs::remove_file(&lock).with_context(|| format!("removing {}", lock.display()))?;
    }
    let lib = staging_root.join("lib");
    for entry in walkdir::WalkDir::new(&lib).min_depth(4).max_depth(4) {
        let entry = entry.with_context(|| format!("reading {}", lib.display()))?;
        let path = entry.path();
        let in_dist_info = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d.as_encoded_bytes().ends_with(b".dist-info"));
        let uv_file = entry.file_name() == "uv_cache.json" || entry.file_name() == "uv_build.json";
        if in_dist_info && uv_file {
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs the source package's tests in the staged venv, in the source directory; what they leave in
/// the source tree is removed again.
fn run_tests(
    layout: &Layout,
    plan: &InstallPlan,
    tests: &TestCommand,
    reporter: &Reporter,
) -> Result<()> {
    let staging = &layout.staging_root;
    let command = match tests {
        TestCommand::Pytest => python_command(&staging.join("bin/python"), plan).args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
        ]),
        TestCommand::Shell(line) => {
            let path = format!(
                "{}:{}",
                staging.join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            python_command(Path::new("/bin/sh"), plan)
                .args(["-c", line])
                .env("PATH", path)
                .env("VIRTUAL_ENV", staging)
        }
    };
    doit_without_residue(
        reporter,
        &command.dir(&layout.source_dir),
        &layout.source_dir,
        layout,
    )?
    .context("running the tests (--test; DEB_BUILD_OPTIONS=nocheck skips them)")
}

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
            plan,
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
        let error = crate::command::failure_summary(output.as_bytes());
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

/// What a download starts from, as pip arguments: the upgrades, `--preinstall`, and `-r` with the
/// requirements file.
fn requested(plan: &InstallPlan) -> Vec<String> {
    let mut wanted: Vec<String> = plan
        .upgrades
        .iter()
        .chain(&plan.preinstall)
        .cloned()
        .collect();
    if let Some(requirements) = &plan.requirements {
        wanted.push("-r".to_owned());
        wanted.push(requirements.display().to_string());
    }
    wanted
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
        let tags = target
            .pip_args(&arch)
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
        if target.python_minor == interpreter.version.1 {
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
            self.plan,
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
                    crate::command::failure_summary(output.as_bytes())
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
                crate::command::failure_summary(output.as_bytes())
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
                crate::command::failure_summary(output.as_bytes())
            );
        }
        Ok(wheelhouse::downloaded_files(&output))
    }
}

/// What pip's hash-checking mode refused, said in terms of the requirements file: the requirement
/// whose archive does not match its hash, or the first one without a hash under `--require-hashes`,
/// with its line. None when pip failed for another reason.
///
/// # References
/// pip's "Secure installs" (hash-checking mode) documentation.
fn hash_problem(pip_output: &str, requirements: &Path) -> Option<String> {
    let file = requirements
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let lines: Vec<&str> = pip_output.lines().collect();
    if let Some(at) = lines
        .iter()
        .position(|l| l.contains("DO NOT MATCH THE HASHES"))
    {
        let entry = lines.get(at + 1)?.trim();
        let requirement = entry.split_whitespace().next()?;
        let line = entry
            .rsplit_once("(line ")
            .and_then(|(_, n)| n.split(')').next())
            .unwrap_or("?");
        let expected = lines
            .get(at + 2)
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?");
        let got = lines
            .get(at + 3)
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?");
        return Some(format!(
            "{file}, line {line}: the archive of {requirement} does not match its hash (expected {expected}, \
             got {got}); if the version changed, update the hash, otherwise the archive was tampered with"
        ));
    }
    let at = lines
        .iter()
        .position(|l| l.contains("Hashes are required in --require-hashes mode"))?;
    let entry = lines.get(at + 1)?.trim();
    let (requirement, hash) = entry.split_once(" --hash=")?;
    let text = fs::read_to_string(requirements).unwrap_or_default();
    let name = requirement
        .split(['=', '<', '>', '!', '~', '[', ';', ' '])
        .next()
        .unwrap_or(requirement);
    let normalize = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let line = text
        .lines()
        .position(|l| normalize(l.trim_start()).starts_with(&normalize(name)))
        .map_or_else(|| "?".to_owned(), |n| (n + 1).to_string());
    Some(format!(
        "{file}, line {line}: {requirement} has no hash, and --require-hashes requires one (its archive's is \
         --hash={hash})"
    ))
}

/// The requirements pip could not find (`No matching distribution found for <requirement>`).
fn missing_distributions(pip_output: &str) -> Vec<String> {
    let mut missing: Vec<String> = pip_output
        .lines()
        .filter_map(|l| {
            l.split_once("No matching distribution found for ")
                .map(|(_, r)| r.trim().to_owned())
        })
        .filter(|r| !r.is_empty())
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Sets the build flags and the compiler wrappers ([`write_compiler_wrappers`]) for a pip call.
fn with_compilers(
    mut command: Command,
    plan: &InstallPlan,
    wrappers: &[(String, PathBuf)],
) -> Command {
    for (name, value) in &plan.compilers.flags {
        command = command.env(name, value);
    }
    for (name, wrapper) in wrappers {
        command = command.env(name, wrapper);
    }
    command
}

/// What pip is given to install the source package: its directory, with `[extra,…]` when there are
/// extras (PEP 508).
fn project_spec(project: &Path, extras: &[String]) -> String {
    if extras.is_empty() {
        project.display().to_string()
    } else {
        format!("{}[{}]", project.display(), extras.join(","))
    }
}

/// A Python command with the environment every step shares: this build's own temporary directory
/// ([`InstallPlan::temp_dir`], which [`make_temp_dir`] creates), pip's cache in the build tree, and no
/// variable that would point pip or Python elsewhere.
fn python_command(python: &Path, plan: &InstallPlan) -> Command {
    Command::new(python)
        .env("TMPDIR", &plan.temp_dir)
        .env("TEMP", &plan.temp_dir)
        .env("TMP", &plan.temp_dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PIP_CACHE_DIR", &plan.cache_dir)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONSTARTUP")
        .env_remove("PYTHONUSERBASE")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PIP_USER")
        .env_remove("PIP_TARGET")
        .env_remove("PIP_PREFIX")
}

/// Creates [`InstallPlan::temp_dir`], which every command of [`python_command`] is given as
/// `TMPDIR` (Python's `tempfile` would silently fall back to `/tmp` without it).
///
/// # Errors
/// When the directory cannot be created; the message names it.
fn make_temp_dir(plan: &InstallPlan) -> Result<()> {
    fs::create_dir_all(&plan.temp_dir).with_context(|| {
        format!(
            "creating the temporary directory {}",
            plan.temp_dir.display()
        )
    })
}

/// Runs `command` as [`Reporter::doit`] does, then removes what it left in the source tree `dir`
/// (setuptools' `build/` and `*.egg-info`, what tests write). Returns the command's own result.
/// The package build directory and dh_rustvenv's work directory are never taken for residue, even
/// when `-P` puts the package build directory inside the source tree.
///
/// # Errors
/// The outer error: what it left cannot be removed.
fn doit_without_residue(
    reporter: &Reporter,
    command: &Command,
    dir: &Path,
    layout: &Layout,
) -> Result<Result<()>> {
    let protected = [layout.staging_root.as_path(), layout.work_dir.as_path()];
    let before = source_tree_entries(dir, &protected);
    let result = reporter.doit(command);
    if !reporter.no_act {
        remove_build_residue(dir, &before, &protected)
            .context("removing what the build left in the source tree")?;
    }
    Ok(result)
}

/// Every path in the source tree outside `debian/`, version-control directories and the `protected`
/// directories (and their parents).
fn source_tree_entries(project: &Path, protected: &[&Path]) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(project)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            let packaging = e.depth() == 1 && name == "debian";
            let version_control = matches!(name.as_ref(), ".git" | ".pc" | ".hg" | ".svn");
            let ours = protected
                .iter()
                .any(|p| p.starts_with(e.path()) || e.path().starts_with(p));
            !packaging && !version_control && !ours
        })
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .collect()
}

/// Removes what appeared in the source tree while the source package was built: the top-most new
/// entries only, nothing that was there before.
fn remove_build_residue(
    project: &Path,
    before: &BTreeSet<PathBuf>,
    protected: &[&Path],
) -> Result<()> {
    let after = source_tree_entries(project, protected);
    for path in after.difference(before) {
        let parent_is_new = path
            .parent()
            .is_some_and(|parent| parent != project && !before.contains(parent));
        if parent_is_new {
            continue;
        }
        let removed = if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(source_dir: &Path) -> Layout {
        Layout {
            package: "demo".into(),
            top: source_dir.to_path_buf(),
            source_dir: source_dir.to_path_buf(),
            staging_root: source_dir.join("debian/demo/opt/venvs/demo"),
            final_root: PathBuf::from("/opt/venvs/demo"),
            work_dir: source_dir.join("debian/.debhelper/rustvenv"),
        }
    }

    fn interpreter() -> Interpreter {
        Interpreter {
            path: "/usr/bin/python3.11".into(),
            version: (3, 11, 2),
            soabi: String::new(),
            cc: "x86_64-linux-gnu-gcc".into(),
            cxx: String::new(),
            pip_wheel: Some("/usr/share/python-wheels/pip-23.0.1-py3-none-any.whl".into()),
            pip_version: Some("23.0.1".into()),
        }
    }

    fn env() -> Environment {
        Environment {
            compiler_settings: ["CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"]
                .iter()
                .map(|n| (n.to_string(), format!("-{n}")))
                .collect(),
            ..Environment::default()
        }
    }

    fn plan(layout: &Layout, options: &VenvOptions) -> Result<InstallPlan> {
        super::plan(
            layout,
            options,
            &interpreter(),
            &env(),
            Flavour::Rustvenv,
            None,
        )
    }

    fn options() -> VenvOptions {
        VenvOptions {
            python: "/usr/bin/python3".into(),
            requirements: None,
            sourcedirectory: None,
            install_suffix: None,
            index_url: Some("https://pypi.example/simple".into()),
            extra_index_url: vec!["https://extra.example/simple".into()],
            extra_pip_arg: vec!["--no-index".into()],
            preinstall: vec![],
            skip_install: false,
            allow_leaks: false,
            no_strip: false,
            recommends: Vec::new(),
            suggests: Vec::new(),
            ship_bytecode: false,
            ignore_library: vec![],
            extras: vec![],
            extra_virtualenv_arg: vec![],
            use_system_packages: false,
            pip_tool: None,
            upgrade_pip: false,
            upgrade_pip_to: None,
            require_hashes: false,
            wheelhouse: None,
            download: false,
            download_for: vec![],
            test: false,
            test_command: None,
            installer: Installer::Pip,
            with_pip: false,
            timings: false,
            buildsystem_destdir: None,
        }
    }

    #[test]
    fn named_requirements_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let mut opts = options();
        opts.requirements = Some("missing.txt".into());
        let err = plan(&layout(dir.path()), &opts).unwrap_err().to_string();
        assert!(
            err.contains("missing.txt") && err.contains("--requirements"),
            "{err}"
        );
    }

    #[test]
    fn default_requirements_file_is_optional_and_pip_args_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("setup.py"), "").unwrap();
        let plan = plan(&layout(dir.path()), &options()).unwrap();
        assert_eq!(plan.requirements, None);
        assert_eq!(plan.project.as_deref(), Some(dir.path()));
        assert_eq!(
            plan.index_args,
            [
                "--index-url=https://pypi.example/simple",
                "--extra-index-url=https://extra.example/simple",
            ]
        );
        assert_eq!(plan.pip_args, ["--no-index"]);
        assert!(plan.upgrades.is_empty() && plan.venv_args.is_empty());
    }

    #[test]
    fn a_source_dir_without_a_project_needs_skip_install() {
        let dir = tempfile::tempdir().unwrap();
        let err = plan(&layout(dir.path()), &options())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--skip-install"), "{err}");
        let mut opts = options();
        opts.skip_install = true;
        assert_eq!(plan(&layout(dir.path()), &opts).unwrap().project, None);
    }

    #[test]
    fn dh_virtualenv_options_become_installer_steps() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let mut opts = options();
        opts.upgrade_pip_to = Some("24.0".into());
        opts.use_system_packages = true;
        opts.extra_virtualenv_arg = vec!["--copies".into()];
        opts.extras = vec!["web".into(), "db".into()];
        opts.pip_tool = Some("pip".into());
        let plan_with = |opts: &VenvOptions| {
            super::plan(
                &layout(dir.path()),
                opts,
                &interpreter(),
                &env(),
                Flavour::Rustvenv,
                None,
            )
            .unwrap()
        };
        let plan = plan_with(&opts);
        assert_eq!(plan.upgrades, ["pip==24.0"]);
        assert_eq!(plan.venv_args, ["--system-site-packages", "--copies"]);
        assert_eq!(plan.pip_args, ["--no-index"]);
        assert_eq!(plan.pip_tool, None, "--pip-tool pip is plain pip");
        for (tool, kept) in [
            ("pip3", false),
            ("pip3.11", false),
            ("pip-sync", true),
            ("pipx", true),
            ("pip3.x", true),
        ] {
            opts.pip_tool = Some(tool.into());
            assert_eq!(
                plan_with(&opts).pip_tool.is_some(),
                kept,
                "--pip-tool {tool}"
            );
        }
        assert_eq!(
            project_spec(dir.path(), &plan.extras),
            format!("{}[web,db]", dir.path().display())
        );
    }

    /// dh-virtualenv 1.2.2's build-system variables, as `Buildsystem/dh_virtualenv.pm` would have
    /// them (its sequence tool reads none of them).
    fn build_system_env() -> Environment {
        let mut env = env();
        env.dh_virtualenv = crate::debhelper::DhVirtualenvEnvironment {
            requirements_file: Some("reqs.txt".into()),
            pip_extra_args: vec!["--prefer-binary".into()],
            virtualenv_arguments: vec![
                "--python".into(),
                "python3".into(),
                "--system-site-packages".into(),
            ],
            upgrade_pip: Some(String::new()),
            upgrade_wheel: Some("0.38.4".into()),
            install_suffix: Some("other".into()),
            ..Default::default()
        };
        env
    }

    #[test]
    fn the_sequence_reads_none_of_the_build_system_variables() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        fs::write(dir.path().join("reqs.txt"), "").unwrap();
        for flavour in [Flavour::Rustvenv, Flavour::DhVirtualenv] {
            let plan = super::plan(
                &layout(dir.path()),
                &options(),
                &interpreter(),
                &build_system_env(),
                flavour,
                None,
            )
            .unwrap();
            assert!(plan.upgrades.is_empty(), "{flavour:?}");
            assert!(plan.venv_args.is_empty(), "{flavour:?}");
            assert_eq!(plan.requirements, None, "{flavour:?}");
            assert_eq!(plan.pip_args, ["--no-index"], "{flavour:?}");
            assert!(plan.requirements_pip_args.is_empty(), "{flavour:?}");
        }
    }

    #[test]
    fn the_build_system_reads_its_variables() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("setup.py"), "").unwrap();
        fs::write(dir.path().join("reqs.txt"), "").unwrap();
        let env = build_system_env();
        let settings = crate::buildsystem::Settings::from_env(&env.dh_virtualenv).unwrap();
        assert_eq!(settings.python.as_deref(), Some("python3"));
        let mut opts = options();
        opts.extra_pip_arg = vec![];
        let plan = super::plan(
            &layout(dir.path()),
            &opts,
            &interpreter(),
            &env,
            Flavour::DhVirtualenv,
            Some(&settings),
        )
        .unwrap();
        assert_eq!(plan.upgrades, ["pip", "wheel==0.38.4"]);
        assert_eq!(plan.venv_args, ["--system-site-packages"]);
        assert_eq!(plan.requirements, Some(dir.path().join("reqs.txt")));
        // DH_PIP_EXTRA_ARGS: the upgrades and the requirements, not `pip install .`.
        assert!(plan.pip_args.is_empty());
        assert_eq!(plan.requirements_pip_args, ["--prefer-binary"]);
        assert!(plan.with_pip);
        // --upgrade-pip-to wins over DH_UPGRADE_PIP; a missing DH_REQUIREMENTS_FILE is named.
        opts.upgrade_pip_to = Some("24.0".into());
        fs::remove_file(dir.path().join("reqs.txt")).unwrap();
        let err = super::plan(
            &layout(dir.path()),
            &opts,
            &interpreter(),
            &env,
            Flavour::DhVirtualenv,
            Some(&settings),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("DH_REQUIREMENTS_FILE"), "{err}");
        fs::write(dir.path().join("reqs.txt"), "").unwrap();
        let plan = super::plan(
            &layout(dir.path()),
            &opts,
            &interpreter(),
            &env,
            Flavour::DhVirtualenv,
            Some(&settings),
        )
        .unwrap();
        assert_eq!(plan.upgrades, ["pip==24.0", "wheel==0.38.4"]);
    }

    #[test]
    fn hash_problems_name_the_requirement_and_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let requirements = dir.path().join("requirements.txt");
        fs::write(&requirements, "# pinned\ngreetlib==1.0\nFastsum==1.0\n").unwrap();
        let mismatch = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated...\n\
            \x20   greetlib==1.0 from file:///w/greetlib-1.0-py3-none-any.whl (from -r requirements.txt (line 2)):\n\
            \x20       Expected sha256 0000\n\
            \x20            Got        d17e\n";
        assert_eq!(
            hash_problem(mismatch, &requirements).unwrap(),
            "requirements.txt, line 2: the archive of greetlib==1.0 does not match its hash (expected 0000, got \
             d17e); if the version changed, update the hash, otherwise the archive was tampered with"
        );
        let missing = "ERROR: Hashes are required in --require-hashes mode, but they are missing from some requirements.\n\
            \x20   fastsum==1.0 --hash=sha256:abcd\n";
        assert_eq!(
            hash_problem(missing, &requirements).unwrap(),
            "requirements.txt, line 3: fastsum==1.0 has no hash, and --require-hashes requires one (its archive's \
             is --hash=sha256:abcd)"
        );
        assert_eq!(
            hash_problem("ERROR: No matching distribution found for x", &requirements),
            None
        );
    }

    #[test]
    fn missing_distributions_are_read_from_pips_errors() {
        let output = "ERROR: Could not find a version that satisfies the requirement setuptools>=61 (from versions: none)\n\
                      ERROR: No matching distribution found for setuptools>=61\n\
                      ERROR: No matching distribution found for setuptools>=61\n";
        assert_eq!(missing_distributions(output), ["setuptools>=61"]);
        assert!(missing_distributions("ERROR: something else").is_empty());
    }

    #[test]
    fn a_wheelhouse_named_must_exist_and_debian_wheelhouse_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let mut opts = options();
        opts.wheelhouse = Some("vendor/wheels".into());
        let err = plan(&layout(dir.path()), &opts).unwrap_err().to_string();
        assert!(
            err.contains("vendor/wheels") && err.contains("--download"),
            "{err}"
        );
        assert_eq!(
            plan(&layout(dir.path()), &options()).unwrap().wheelhouse,
            None
        );
        fs::create_dir_all(dir.path().join("debian/wheelhouse")).unwrap();
        assert_eq!(
            plan(&layout(dir.path()), &options()).unwrap().wheelhouse,
            Some(dir.path().join("debian/wheelhouse"))
        );
    }

    #[test]
    fn compilers_come_from_the_environment_then_the_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = env();
        env.compiler_settings
            .push(("CXX".into(), "ccache g++".into()));
        let compilers = compilers(&layout(dir.path()), &interpreter(), &env).unwrap();
        assert_eq!(compilers.cc, "x86_64-linux-gnu-gcc");
        assert_eq!(compilers.cxx, "ccache g++");
        assert_eq!(
            compilers.flags[0],
            ("CFLAGS".to_owned(), "-CFLAGS".to_owned())
        );
        assert!(
            compiler_wrapper("ccache g++")
                .contains("exec ccache g++ \"$@\" -ffile-prefix-map=\"$root\"=.")
        );
    }

    #[test]
    fn the_wrapper_maps_the_unpacked_sdist_whatever_directory_the_compiler_runs_in() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let wrapper = base.join("cc");
        fs::write(&wrapper, compiler_wrapper("echo")).unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        let cases = [
            (
                "pip-install-abc/fastsum_1234",
                "pip-install-abc/fastsum_1234",
            ),
            (
                "pip-install-abc/fastsum_1234/build/temp.linux",
                "pip-install-abc/fastsum_1234",
            ),
            ("pip-req-build-xyz/sub", "pip-req-build-xyz"),
            ("plain/dir", "plain/dir"),
        ];
        for (cwd, root) in cases {
            fs::create_dir_all(base.join(cwd)).unwrap();
            let out = Command::new(&wrapper)
                .args(["-c", "x.c"])
                .dir(base.join(cwd))
                .query()
                .unwrap();
            let expected = format!("-c x.c -ffile-prefix-map={}=.", base.join(root).display());
            assert_eq!(out.trim(), expected, "{cwd}");
        }
        // pip's isolated build environment, as pip puts it on the backend's PATH.
        let out = Command::new(&wrapper)
            .args(["-c", "x.c"])
            .dir(base.join("plain/dir"))
            .env(
                "PATH",
                "/usr/local/bin:/tmp/pip-build-env-k2_x/overlay/bin:/tmp/pip-build-env-k2_x/normal/bin:/usr/bin",
            )
            .query()
            .unwrap();
        assert_eq!(
            out.trim(),
            format!(
                "-c x.c -ffile-prefix-map=/tmp/pip-build-env-k2_x=/pip-build-env -ffile-prefix-map={}=.",
                base.join("plain/dir").display()
            )
        );
        // uv's: the sdist unpacked in its cache under the source package, which dpkg-buildflags maps
        // to `.`; the wrapper's maps come last, so they win.
        let out = Command::new(&wrapper)
            .args(["-ffile-prefix-map=/build/src=.", "-c", "x.c"])
            .dir(base.join("plain/dir"))
            .env(
                "PATH",
                "/build/src/debian/.debhelper/rustvenv/uv-cache/builds-v0/.tmpQ1w2/bin:/usr/bin",
            )
            .query()
            .unwrap();
        assert_eq!(
            out.trim(),
            format!(
                "-ffile-prefix-map=/build/src=. -c x.c \
                 -ffile-prefix-map=/build/src/debian/.debhelper/rustvenv/uv-cache/builds-v0/.tmpQ1w2=/pip-build-env \
                 -ffile-prefix-map={}=.",
                base.join("plain/dir").display()
            )
        );
    }

    #[test]
    fn build_residue_is_removed_and_what_was_there_stays() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/demo")).unwrap();
        fs::create_dir_all(root.join("debian")).unwrap();
        // -P pkgroot: the package build directory is inside the source tree.
        let staging = root.join("pkgroot/opt/venvs/demo");
        let protected = [staging.as_path()];
        let before = source_tree_entries(root, &protected);
        fs::create_dir_all(root.join("build/lib/demo")).unwrap();
        fs::create_dir_all(root.join("src/demo.egg-info")).unwrap();
        fs::write(root.join("src/demo.egg-info/PKG-INFO"), "x").unwrap();
        fs::write(root.join("debian/new-file"), "kept").unwrap();
        fs::create_dir_all(staging.join("lib/python3.11/site-packages/demo")).unwrap();
        fs::create_dir_all(root.join("pkgroot/usr/share/doc")).unwrap();
        remove_build_residue(root, &before, &protected).unwrap();
        assert!(!root.join("build").exists());
        assert!(!root.join("src/demo.egg-info").exists());
        assert!(root.join("src/demo").is_dir());
        assert!(root.join("debian/new-file").exists());
        assert!(staging.join("lib/python3.11/site-packages/demo").is_dir());
        assert!(root.join("pkgroot/usr/share/doc").is_dir());
    }
}
