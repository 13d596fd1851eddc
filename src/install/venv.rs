//! The installer calls into the venv: the environment every Python command of a build shares, and
//! the upgrades, `--preinstall`, the requirements file and the source package installed with pip (the
//! interpreter's, its wheel's or the venv's own) or with uv.
//!
//! One file rather than pip.rs and uv.rs: which program installs is decided call by call in
//! [`install_distributions`] (the venv's own pip once it has one, `--pip-tool`, uv), so the steps and
//! the choice of program belong together; uv's own part is small (finding the binary, its command line,
//! removing what it writes for itself).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::compilers::{with_compilers, write_compiler_wrappers};
use super::messages::{hash_problem, install_hint};
use super::plan::{InstallPlan, InstallerCommand, PipRunner, UvSource, project_spec};
use super::residue::doit_without_residue;
use crate::command::{Command, CommandError};
use crate::debhelper::Reporter;
use crate::interpreter::Interpreter;
use crate::layout::Layout;

/// A Python command with the environment every step shares: this build's own temporary directory
/// ([`InstallPlan::temp_dir`], which [`make_temp_dir`] creates), pip's cache in the build tree, and no
/// variable that would point pip or Python elsewhere.
pub(crate) fn python_command(python: &Path, plan: &InstallPlan) -> Command {
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
pub(crate) fn make_temp_dir(plan: &InstallPlan) -> Result<()> {
    fs::create_dir_all(&plan.temp_dir).with_context(|| {
        format!(
            "creating the temporary directory {}",
            plan.temp_dir.display()
        )
    })
}

/// Creates [`InstallPlan::cache_dir`] and removes everything else in the directory that holds it
/// (`pip-cache/` or `uv-cache/` of the work directory): the caches of earlier runs, kept under the
/// keys of other local distributions, which could hand out what was built from a file since replaced
/// under the same name. When that directory is a symlink, the link is removed (never what it points
/// to) and a directory made in its place: the cache is written nowhere but in the work directory.
///
/// # Errors
/// When a directory cannot be created, read or removed; the message names it.
pub(crate) fn prepare_cache_dir(plan: &InstallPlan) -> Result<()> {
    let cache = &plan.cache_dir;
    if let Some(parent) = cache.parent() {
        match fs::symlink_metadata(parent) {
            Ok(metadata) if metadata.is_dir() => {
                let entries = fs::read_dir(parent)
                    .with_context(|| format!("reading {}", parent.display()))?;
                for entry in entries {
                    let entry = entry.with_context(|| format!("reading {}", parent.display()))?;
                    if Some(entry.file_name().as_os_str()) == cache.file_name() {
                        continue;
                    }
                    let path = entry.path();
                    crate::tree::remove_if_there(&path)
                        .with_context(|| format!("removing the stale cache {}", path.display()))?;
                }
            }
            Ok(_) => fs::remove_file(parent)
                .with_context(|| format!("removing {}, not a directory", parent.display()))?,
            Err(_) => {}
        }
    }
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))
}

/// Installs the upgrades, `--preinstall`, the requirements file and the source package into the venv
/// at `layout.staging_root`, each with one installer call, in that order.
pub(super) fn install_distributions(
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
    if let (Some(target), None) = (&plan.cross, &uv) {
        // A cross build with pip: the host's wheels, through pip's --target (install/cross.rs).
        let cross = super::cross::CrossInstall {
            layout,
            interpreter,
            plan,
            target,
            sources: &sources,
            compiler_env: &compiler_env,
            reporter,
        };
        return cross.install();
    }
    // The wheelhouse as the user names it, relative to the top of the source package.
    let wheelhouse = plan
        .wheelhouse
        .as_deref()
        .map(|dir| dir.strip_prefix(&layout.top).unwrap_or(dir));
    let offline = |step: String| match wheelhouse {
        Some(dir) => format!("{step} from the wheelhouse {} only", dir.display()),
        None => step,
    };
    // A failed install, with the step and what to do about it when the installer's output says
    // (a distribution missing from the wheelhouse, a full disk).
    let failed = |error: anyhow::Error, step: String| {
        let cross = plan.cross.as_ref();
        if let Some(refused) = cross.and_then(|t| super::cross::uv_refused_build(&error, t)) {
            return anyhow::anyhow!("{step}: {refused}");
        }
        match install_hint(&error, wheelhouse) {
            Some(hint) => error.context(format!("{step}: {hint}")),
            None => error.context(offline(step)),
        }
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
            (None, None, InstallerCommand::Pip(PipRunner::Interpreter(runner))) => {
                python_command(&venv_python, plan)
                    .arg(runner)
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
        Ok(with_compilers(command, &plan.compilers, &compiler_env).args(&sources))
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
            .map_err(|error| {
                let step = format!("upgrading {}", plan.upgrades.join(", "));
                if plan.wheelhouse.is_some() {
                    return failed(error, step);
                }
                // dh_virtualenv does not give --extra-pip-arg to the upgrade (its #197), so the
                // --no-index/--find-links of an offline build do not reach it.
                error.context(format!(
                    "{step}: the upgrade does not get --extra-pip-arg (as with dh_virtualenv), so it \
                     looked for {} in the package index; to build offline, put the wheels in \
                     debian/wheelhouse or name their directory with --wheelhouse, which every pip \
                     call uses (dh_rustvenv --download fills it)",
                    plan.upgrades.join(", ")
                ))
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
            .map_err(|e| failed(e, "installing the --preinstall requirements".to_owned()))?;
    }
    // What --preinstall installed counts: a pip it pinned is the one to install the rest with.
    venv_has_pip |= !reporter.no_act && staging.join("bin/pip").exists();
    let installer = |tool: Option<&str>| installer(tool, venv_has_pip);
    let tool = plan.pip_tool.as_deref();
    // A lock's set is complete: nothing is resolved beyond it, the project's dependencies included.
    let no_deps: &[&str] = if plan.lock.is_some() {
        &["--no-deps"]
    } else {
        &[]
    };
    if let Some(requirements) = &plan.requirements {
        let name = match &plan.lock {
            Some(lock) => std::borrow::Cow::Owned(lock.name()),
            None => requirements
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
        };
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
                .args(no_deps)
                .arg("-r")
                .arg(requirements)
                .dir(&layout.source_dir),
        );
        if let Err(e) = installed {
            if let Some(problem) =
                e.downcast_ref::<CommandError>()
                    .and_then(|failed| match failed {
                        CommandError::Failed { output, .. } => hash_problem(output, requirements),
                        CommandError::NotStarted { .. } => None,
                    })
            {
                bail!("installing {name}: {problem}");
            }
            return Err(failed(e, format!("installing {name}")));
        }
    }
    if let Some(project) = &plan.project {
        let installer = installer(tool)?
            .args(&plan.pip_args)
            .args(no_deps)
            .arg(project_spec(project, &plan.extras))
            .dir(project);
        doit_without_residue(reporter, &installer, project, layout)?.map_err(|e| {
            failed(
                e,
                format!("installing the source package from {}", project.display()),
            )
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
        // A cross build: the host's wheels, markers evaluated for the host.
        .args(
            plan.cross
                .iter()
                .flat_map(|t| ["--python-platform".to_owned(), t.uv_platform()]),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::fixtures::{env, interpreter, layout, options};

    #[test]
    fn earlier_caches_go_and_a_symlinked_cache_directory_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let plan = crate::install::plan(
            &layout(dir.path()),
            &options(),
            &interpreter(),
            &env(),
            crate::layout::Flavour::Rustvenv,
            None,
        )
        .unwrap();
        let caches = plan.cache_dir.parent().unwrap().to_path_buf();
        fs::create_dir_all(caches.join("0123456789abcdef/wheels")).unwrap();
        fs::create_dir_all(plan.cache_dir.join("wheels")).unwrap();
        fs::write(caches.join("selfcheck.json"), "{}").unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "").unwrap();
        std::os::unix::fs::symlink(&outside, caches.join("linked")).unwrap();
        prepare_cache_dir(&plan).unwrap();
        let names: Vec<_> = fs::read_dir(&caches)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [plan.cache_dir.file_name().unwrap()]);
        assert!(
            plan.cache_dir.join("wheels").is_dir(),
            "this run's cache was removed"
        );
        assert!(outside.join("keep").exists());
        // pip-cache itself a symlink: what it points to is left alone, nothing is written there.
        fs::remove_dir_all(&caches).unwrap();
        std::os::unix::fs::symlink(&outside, &caches).unwrap();
        prepare_cache_dir(&plan).unwrap();
        let outside_names: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside_names, ["keep"]);
        assert!(fs::symlink_metadata(&caches).unwrap().is_dir());
        assert!(plan.cache_dir.is_dir());
    }
}
