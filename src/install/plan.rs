//! What will be installed into the venv ([`InstallPlan`]): the options, the build system's variables
//! and the source tree, checked before anything is written.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::compilers::{Compilers, compilers};
use crate::debhelper::Environment;
use crate::interpreter::Interpreter;
use crate::layout::{Flavour, Layout};
use crate::options::{Installer, VenvOptions};

/// What will be installed into a venv, checked before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// The build's `PATH` ([`Environment::path`]): where `--test`'s shell command finds its tools
    /// after the venv's `bin/`.
    pub search_path: Option<std::ffi::OsString>,
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
    /// The locked set, when the input is a lock file: `requirements` is then the file it writes, and
    /// the requirements and the project are installed with `--no-deps`.
    pub lock: Option<super::lock::LockPlan>,
    /// The line said about the input when a lock file was read or passed over.
    pub input_note: Option<String>,
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
    /// pip's or uv's cache, inside the build tree so it lands neither in the package nor in `$HOME`:
    /// `<work_dir>/pip-cache/<key>` (or `uv-cache/<key>`), the key 16 hex digits of a digest of the
    /// local distributions the installer can find (the wheelhouse's and `--find-links`' files), so
    /// that a file replaced under the same name is never installed from an earlier run's cache. The
    /// install removes the directories of other keys, earlier runs'.
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
    /// The host of a cross build (dpkg-architecture(1): `DEB_HOST_ARCH` is not `DEB_BUILD_ARCH`),
    /// whose wheels are installed (`crate::cross`); None for a native build.
    pub cross: Option<crate::cross::CrossTarget>,
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
    /// The interpreter's own pip, 22.3 or later (Debian's python3-pip), run by the venv's interpreter
    /// through pip's runner: `<venv>/bin/python <pip>/__pip-runner__.py install`. That is what
    /// `python3.X -m pip --python <venv>/bin/python` does, minus its second process, which would
    /// outlive dh_rustvenv when dh_rustvenv alone is killed (the parent-death signal reaches only the
    /// process dh_rustvenv started).
    Interpreter(PathBuf),
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

/// Checks the requirements file and the source package and returns what to install.
///
/// By default `requirements.txt` in the source directory is installed when it exists, else the first
/// lock file found there (`pylock.toml`, `uv.lock`, `poetry.lock`); a file named with
/// `--requirements` or `--lock` must exist. A lock is read for `interpreter` and its artifacts checked
/// in the wheelhouse here ([`super::lock::resolve`]). The source package needs a `pyproject.toml` or a
/// `setup.py` unless `--skip-install` is given.
///
/// `build_system` is given in dh-virtualenv's build-system mode (`--buildsystem-destdir`): its
/// settings, from the build system's variables, add to the options (`DH_REQUIREMENTS_FILE` when
/// `--requirements` is not given). Without it, those variables are not read at all, as dh-virtualenv
/// 1.2.2's `dh_virtualenv` does not read them.
///
/// # Errors
/// When the named requirements or lock file does not exist, when a lock cannot be read or an artifact
/// it locks is missing, lacks for the interpreter or does not match its hash, when the source
/// directory has no Python project and
/// `--skip-install` was not given (the messages name the file and the option that fixes it), or when
/// `dpkg-buildflags` cannot be run, or `--installer uv` finds neither a uv wheel in the wheelhouse nor
/// uv on PATH.
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
    let option = if options.requirements.is_some() {
        "--requirements"
    } else {
        "DH_REQUIREMENTS_FILE"
    };
    let input = super::lock::discover(
        &layout.source_dir,
        named_requirements.as_deref().map(|named| (named, option)),
        options.lock.as_deref(),
    )?;
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
    let resolved = super::lock::resolve(
        input,
        layout,
        interpreter,
        &options.extras,
        &options.groups,
        wheelhouse.as_deref(),
        options.downloads(),
    )?;
    let cross = crate::debhelper::CrossArchitecture::detect(&env.architecture)?
        .map(|architecture| crate::cross::CrossTarget::new(architecture, interpreter))
        .transpose()?;
    let tests = match (&options.test, &options.test_command) {
        (false, _) => None,
        // A cross build: the host's extension modules may not run on the build machine, and
        // dh_auto_test(1) runs no test suite when a package is cross-compiled either.
        (true, _) if cross.is_some() => None,
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
    let pip_args = options.extra_pip_arg.clone();
    let requirements_pip_args = build_system
        .map(|b| b.pip_extra_args.clone())
        .unwrap_or_default();
    let local_dirs = local_distribution_dirs(
        wheelhouse.as_deref(),
        [&pip_args, &requirements_pip_args],
        &layout.top,
    );
    let (installer, cache_dir) = match options.installer {
        Installer::Pip => {
            let pip_version = interpreter.pip_version.as_deref().map(|v| {
                v.split('.')
                    .map(|p| p.parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
            });
            let runner = match (pip_version, &interpreter.pip_runner, &interpreter.pip_wheel) {
                (Some(version), Some(runner), _) if version >= vec![22, 3] => {
                    PipRunner::Interpreter(runner.clone())
                }
                (_, _, Some(wheel)) => PipRunner::Wheel(wheel.clone()),
                _ => PipRunner::Missing,
            };
            let key = cache_key(&local_dirs, LocalFiles::SourceDistributions)?;
            (
                InstallerCommand::Pip(runner),
                Path::new("pip-cache").join(key),
            )
        }
        Installer::Uv => {
            let key = cache_key(&local_dirs, LocalFiles::All)?;
            (
                InstallerCommand::Uv(find_uv(wheelhouse.as_deref(), env)?),
                Path::new("uv-cache").join(key),
            )
        }
    };
    Ok(InstallPlan {
        search_path: env.path.clone(),
        installer,
        with_pip: options.with_pip || flavour == Flavour::DhVirtualenv,
        venv_args,
        upgrades,
        preinstall: options.preinstall.clone(),
        requirements: resolved.requirements,
        require_hashes: options.require_hashes || resolved.lock.is_some(),
        lock: resolved.lock,
        input_note: resolved.note,
        project,
        extras: options
            .extras
            .iter()
            .filter(|e| !e.is_empty())
            .cloned()
            .collect(),
        // pip itself under any of its names is the installer, whether or not the venv has a pip.
        pip_tool: options.pip_tool.clone().filter(|t| !names_pip(t)),
        index_args,
        pip_args,
        requirements_pip_args,
        wheelhouse,
        tests,
        cache_dir: layout.work_dir.join(cache_dir),
        temp_dir: layout.work_dir.join(&layout.package).join("tmp"),
        compilers: compilers(layout, interpreter, env)?,
        cross,
    })
}

/// Whether the `--pip-tool` name `tool` is pip itself under one of the names the venv's bin/ gives it:
/// `pip`, `pip3` or `pip3.N` (N a number).
fn names_pip(tool: &str) -> bool {
    crate::shebang::versioned_name(tool.as_bytes(), b"pip").is_some()
}

/// The directories of local distributions the installer searches besides the index: the wheelhouse,
/// then each `--find-links` (`-f`) of the `--extra-pip-arg`s and of the build system's
/// `DH_PIP_EXTRA_ARGS`, in the spellings pip accepts (`--find-links=DIR`, `--find-links DIR`, `-fDIR`,
/// `-f DIR`, `file://` URLs). A relative directory is taken from `top`, where the installer runs;
/// URLs of other schemes are left out (an index's files do not change under the same name).
fn local_distribution_dirs<'a>(
    wheelhouse: Option<&Path>,
    pip_args: impl IntoIterator<Item = &'a Vec<String>>,
    top: &Path,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = wheelhouse.map(Path::to_path_buf).into_iter().collect();
    for args in pip_args {
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let value = if arg == "--find-links" || arg == "-f" {
                args.next().map(String::as_str)
            } else {
                arg.strip_prefix("--find-links=")
                    .or_else(|| arg.strip_prefix("-f"))
            };
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let path = match value.strip_prefix("file://") {
                Some(path) => path,
                None if value.contains("://") => continue,
                None => value,
            };
            let dir = top.join(path);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// Which local files make the installer's cache stale when they change under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalFiles {
    /// Source distributions (every file but `*.whl`): pip caches the wheels it builds from a local
    /// sdist under the sdist's file URL (pip's `WheelCache`, keyed by the link's URL), and never
    /// caches a local wheel.
    SourceDistributions,
    /// Wheels too: uv keeps what it takes from `--find-links` by name and version, as it does for a
    /// package index (astral-sh/uv#2986, astral-sh/uv#3518), so a wheel replaced under the same name
    /// would be installed from the cache as well. (uv does check the modification time of a source
    /// distribution named by its path, but not of files found through `--find-links`.)
    All,
}

/// The name of the installer's cache directory for these local distributions: the first 16 hex
/// digits of a sha256 over the name and the content's sha256 of each file that `which` selects, in
/// the top of each of `dirs` (where pip's and uv's `--find-links` look), sorted by name. pip keeps
/// the wheels it built from a local sdist under the sdist's URL: replaced by another sdist of the
/// same name, the old build would be installed again from a cache left by an earlier run (the cache
/// survives a rerun without `dh_clean`). A change of any of these files gives another cache
/// directory, an empty one. A directory that does not exist counts as empty.
///
/// # Errors
/// When a directory or a file cannot be read; the message names it.
fn cache_key(dirs: &[PathBuf], which: LocalFiles) -> Result<String> {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let name = entry.file_name();
            let sdist = crate::wheelhouse::is_sdist(&name.to_string_lossy());
            if (!sdist && which == LocalFiles::SourceDistributions) || !entry.path().is_file() {
                continue;
            }
            files.push(name);
        }
        files.sort();
        for name in files {
            let path = dir.join(&name);
            let mut content = sha2::Sha256::new();
            let mut file =
                fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
            std::io::copy(&mut file, &mut content)
                .with_context(|| format!("reading {}", path.display()))?;
            digest.update(name.as_encoded_bytes());
            digest.update([0]);
            digest.update(content.finalize());
        }
    }
    let hex: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(hex)
}

/// Finds uv for `--installer uv`: the newest uv wheel in the wheelhouse built for this machine
/// (manylinux before musllinux), else `uv` on PATH.
///
/// # Errors
/// When there is neither; the message says how to add one.
fn find_uv(wheelhouse: Option<&Path>, env: &Environment) -> Result<UvSource> {
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
    match which::which_in("uv", env.path.as_ref(), &env.top) {
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

/// What a download starts from, as pip arguments: the upgrades, `--preinstall`, and `-r` with the
/// requirements file.
pub(crate) fn requested(plan: &InstallPlan) -> Vec<String> {
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

/// What pip is given to install the source package: its directory, with `[extra,…]` when there are
/// extras (PEP 508).
pub(crate) fn project_spec(project: &Path, extras: &[String]) -> String {
    if extras.is_empty() {
        project.display().to_string()
    } else {
        format!("{}[{}]", project.display(), extras.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::fixtures::{env, interpreter, layout, options};

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
    fn the_cache_is_keyed_by_the_local_sdists_so_one_replaced_under_its_name_misses_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let wheelhouse = dir.path().join("debian/wheelhouse");
        let links = dir.path().join("links");
        fs::create_dir_all(&wheelhouse).unwrap();
        fs::create_dir_all(&links).unwrap();
        fs::write(wheelhouse.join("foo-1.0.tar.gz"), "a").unwrap();
        fs::write(wheelhouse.join("bar-1.0-py3-none-any.whl"), "wheel").unwrap();
        let mut opts = options();
        opts.extra_pip_arg = vec!["--no-index".into(), "-f".into(), "links".into()];
        let cache = |opts: &VenvOptions| plan(&layout(dir.path()), opts).unwrap().cache_dir;
        let first = cache(&opts);
        assert_eq!(
            first.parent(),
            Some(
                dir.path()
                    .join("debian/.debhelper/rustvenv/pip-cache")
                    .as_path()
            )
        );
        let key = first.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}"
        );
        assert_eq!(cache(&opts), first, "the same files, the same cache");
        // pip never caches a local wheel: replacing one keeps the cache.
        fs::write(wheelhouse.join("bar-1.0-py3-none-any.whl"), "other wheel").unwrap();
        assert_eq!(cache(&opts), first);
        // An sdist replaced under the same name, in the wheelhouse or a --find-links directory.
        fs::write(wheelhouse.join("foo-1.0.tar.gz"), "b").unwrap();
        let second = cache(&opts);
        assert_ne!(second, first);
        fs::write(links.join("baz-2.0.zip"), "c").unwrap();
        assert_ne!(cache(&opts), second);
        // uv's cache keeps wheels of --find-links too.
        opts.installer = Installer::Uv;
        let uv = |opts: &VenvOptions| {
            let mut env = env();
            env.path = Some("/nonexistent".into());
            let uv_wheel = wheelhouse.join("uv-0.5.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.manylinux_2_17_aarch64.manylinux2014_aarch64.whl");
            fs::write(uv_wheel, "uv").unwrap();
            super::plan(
                &layout(dir.path()),
                opts,
                &interpreter(),
                &env,
                Flavour::Rustvenv,
                None,
            )
            .unwrap()
            .cache_dir
        };
        let with_wheel = uv(&opts);
        assert!(with_wheel.parent().unwrap().ends_with("uv-cache"));
        fs::write(wheelhouse.join("bar-1.0-py3-none-any.whl"), "a third wheel").unwrap();
        assert_ne!(uv(&opts), with_wheel);
    }

    #[test]
    fn find_links_is_read_in_every_spelling_pip_accepts() {
        let top = Path::new("/src");
        let args = vec![
            "--find-links=/abs".to_owned(),
            "--find-links".to_owned(),
            "rel".to_owned(),
            "-fshort".to_owned(),
            "-f".to_owned(),
            "file:///url".to_owned(),
            "--find-links=https://example.org/simple".to_owned(),
            "--no-index".to_owned(),
        ];
        let wheelhouse = Path::new("/src/debian/wheelhouse");
        assert_eq!(
            local_distribution_dirs(Some(wheelhouse), [&args, &vec!["-f/abs".to_owned()]], top),
            [
                PathBuf::from("/src/debian/wheelhouse"),
                PathBuf::from("/abs"),
                PathBuf::from("/src/rel"),
                PathBuf::from("/src/short"),
                PathBuf::from("/url"),
            ]
        );
    }
}
