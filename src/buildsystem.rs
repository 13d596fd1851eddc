//! dh-virtualenv 1.2.2's build system (`dh $@ --buildsystem=dh_virtualenv`), as the drop-in provides it.
//!
//! dh-virtualenv's `Buildsystem/dh_virtualenv.pm` reads its own environment variables, which its
//! sequence tool `dh_virtualenv` never reads: `DH_VIRTUALENV_INSTALL_ROOT` (default `/usr/share/python`
//! here, not `/opt/venvs`), `DH_VIRTUALENV_INSTALL_SUFFIX` (default: the source package's name),
//! `DH_REQUIREMENTS_FILE` (default `requirements.txt`), `DH_PIP_EXTRA_ARGS` (given to the upgrades and the
//! requirements install, not to `pip install .`), `DH_UPGRADE_PIP`, `DH_UPGRADE_SETUPTOOLS`,
//! `DH_UPGRADE_WHEEL` (set: upgrade first; empty: the newest, else `==value`) and
//! `DH_VIRTUALENV_ARGUMENTS` (virtualenv's arguments). The drop-in's build system
//! (`debhelper/Debian/Debhelper/Buildsystem/dh_virtualenv.pm`) runs `dh_virtualenv
//! --buildsystem-destdir DIR` from dh_auto_install, and that run builds the venv with the same pipeline
//! as the sequence, with the settings read here. Nothing here writes anything.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::debhelper::{DhVirtualenvEnvironment, Package};

/// The variables only dh-virtualenv 1.2.2's build system reads, by name.
pub const BUILD_SYSTEM_VARIABLES: [&str; 7] = [
    "DH_VIRTUALENV_ARGUMENTS",
    "DH_VIRTUALENV_INSTALL_SUFFIX",
    "DH_REQUIREMENTS_FILE",
    "DH_PIP_EXTRA_ARGS",
    "DH_UPGRADE_PIP",
    "DH_UPGRADE_SETUPTOOLS",
    "DH_UPGRADE_WHEEL",
];

/// What dh-virtualenv 1.2.2's build system takes from its environment variables, for the install
/// stage (the install root and the venv's name are the [`crate::layout::Layout`]'s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The interpreter named in `DH_VIRTUALENV_ARGUMENTS` (`--python X`, `-p X`, `--python=X`), if any.
    pub python: Option<String>,
    /// `--system-site-packages` in `DH_VIRTUALENV_ARGUMENTS`.
    pub system_site_packages: bool,
    /// Arguments of `DH_VIRTUALENV_ARGUMENTS` that virtualenv and `python -m venv` share (`--copies`,
    /// `--symlinks`, `--prompt NAME`), given to `python -m venv` as they are.
    pub venv_args: Vec<String>,
    /// `DH_REQUIREMENTS_FILE`, relative to the source directory; None: `requirements.txt`, when it exists.
    pub requirements: Option<PathBuf>,
    /// `DH_PIP_EXTRA_ARGS`, split on white space: given to the upgrades and the requirements install.
    pub pip_extra_args: Vec<String>,
    /// `DH_UPGRADE_PIP`, `DH_UPGRADE_SETUPTOOLS`, `DH_UPGRADE_WHEEL` as requirements: `pip` (empty:
    /// the newest) or `pip==VERSION`, in that order.
    pub upgrades: Vec<String>,
}

impl Settings {
    /// Reads the build system's variables as dh-virtualenv 1.2.2's `Buildsystem/dh_virtualenv.pm`
    /// (`build`) does.
    ///
    /// # Errors
    /// When `DH_VIRTUALENV_ARGUMENTS` holds an argument `python -m venv` cannot take
    /// ([`virtualenv_arguments`]).
    pub fn from_env(env: &DhVirtualenvEnvironment) -> Result<Settings> {
        let mut settings = virtualenv_arguments(&env.virtualenv_arguments)?;
        settings.requirements = env.requirements_file.as_ref().map(PathBuf::from);
        settings.pip_extra_args = env.pip_extra_args.clone();
        for (name, version) in [
            ("pip", &env.upgrade_pip),
            ("setuptools", &env.upgrade_setuptools),
            ("wheel", &env.upgrade_wheel),
        ] {
            match version.as_deref() {
                Some("") => settings.upgrades.push(name.to_owned()),
                Some(version) => settings.upgrades.push(format!("{name}=={version}")),
                None => {}
            }
        }
        Ok(settings)
    }
}

/// Reads `DH_VIRTUALENV_ARGUMENTS`, the arguments dh-virtualenv 1.2.2's build system gives to
/// `virtualenv` (its default `--no-site-packages`), for `python -m venv`: `--python X`, `-p X`,
/// `--python=X` and `-pX` name the interpreter; `--system-site-packages` is kept; `--no-site-packages`
/// is dropped (what venv does anyway, and an option virtualenv 20 removed); `--copies`, `--symlinks`,
/// `--prompt NAME` are options of both and kept. The returned settings have only those fields set.
///
/// # Errors
/// For any other argument (virtualenv's own, such as `--no-download`, or dh_virtualenv's, such as
/// `--builtin-venv`): one line naming `DH_VIRTUALENV_ARGUMENTS` and the argument.
pub fn virtualenv_arguments(words: &[String]) -> Result<Settings> {
    let mut settings = Settings::default();
    let mut iter = words.iter();
    let missing = |option: &str| {
        anyhow::anyhow!("DH_VIRTUALENV_ARGUMENTS: {option} needs a value, as in `{option} python3`")
    };
    while let Some(word) = iter.next() {
        match word.as_str() {
            "--python" | "-p" => {
                settings.python = Some(iter.next().ok_or_else(|| missing(word))?.clone());
            }
            "--prompt" => {
                let value = iter.next().ok_or_else(|| missing(word))?;
                settings.venv_args.extend([word.clone(), value.clone()]);
            }
            "--system-site-packages" => settings.system_site_packages = true,
            "--no-site-packages" => {}
            "--copies" | "--symlinks" => settings.venv_args.push(word.clone()),
            w if w.starts_with("--python=") => {
                settings.python = Some(w["--python=".len()..].to_owned());
            }
            w if w.starts_with("-p") && w.len() > 2 && !w.starts_with("--") => {
                settings.python = Some(w[2..].to_owned());
            }
            w if w.starts_with("--prompt=") => settings.venv_args.push(w.to_owned()),
            other => bail!(
                "DH_VIRTUALENV_ARGUMENTS: `{other}` is not an argument `python3 -m venv` takes (the venv \
                 is created with it, not with virtualenv); remove it (understood: --python X, \
                 --system-site-packages, --no-site-packages, --copies, --symlinks, --prompt NAME)"
            ),
        }
    }
    if settings.python.as_deref() == Some("") {
        bail!("DH_VIRTUALENV_ARGUMENTS: --python needs an interpreter, as in `--python python3`");
    }
    Ok(settings)
}

/// The names of the build system's variables set in `env`, which the sequence tool `dh_virtualenv`
/// of dh-virtualenv 1.2.2 does not read (`dh_virtualenv/deployment.py` reads only
/// `DH_VIRTUALENV_INSTALL_ROOT`), so neither does a sequence run.
pub fn set_variables(env: &DhVirtualenvEnvironment) -> Vec<&'static str> {
    let set = [
        !env.virtualenv_arguments.is_empty(),
        env.install_suffix.is_some(),
        env.requirements_file.is_some(),
        !env.pip_extra_args.is_empty(),
        env.upgrade_pip.is_some(),
        env.upgrade_setuptools.is_some(),
        env.upgrade_wheel.is_some(),
    ];
    BUILD_SYSTEM_VARIABLES
        .iter()
        .zip(set)
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect()
}

/// The one package a build-system run acts on, among the selected `packages`: the one whose package
/// build directory is `destdir` (dh_auto_install's destination for a source package with one binary
/// package), else the first (dh_auto_install installs into debian/tmp when there are several). Its
/// substvars, maintainer-script snippets and lintian overrides are written for it; the venv goes
/// under `destdir`, which is relative to `top` (the top of the source package) or absolute.
pub fn destdir_package(packages: Vec<Package>, destdir: &Path, top: &Path) -> Vec<Package> {
    let destdir = crate::tree::normalize(&top.join(destdir));
    let position = packages
        .iter()
        .position(|p| crate::tree::normalize(&p.tmpdir) == destdir)
        .unwrap_or(0);
    packages.into_iter().skip(position).take(1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn virtualenv_arguments_become_the_interpreter_and_venv_options() {
        let s = virtualenv_arguments(&words("--python python3 --system-site-packages")).unwrap();
        assert_eq!(s.python.as_deref(), Some("python3"));
        assert!(s.system_site_packages);
        let s = virtualenv_arguments(&words("-p /usr/bin/python3.11 --no-site-packages")).unwrap();
        assert_eq!(s.python.as_deref(), Some("/usr/bin/python3.11"));
        assert!(!s.system_site_packages && s.venv_args.is_empty());
        let s = virtualenv_arguments(&words("--python=python3 --copies --prompt app")).unwrap();
        assert_eq!(s.python.as_deref(), Some("python3"));
        assert_eq!(s.venv_args, words("--copies --prompt app"));
        assert_eq!(
            virtualenv_arguments(&words("-ppython3")).unwrap().python,
            Some("python3".to_owned())
        );
    }

    #[test]
    fn arguments_venv_cannot_take_are_refused_by_name() {
        for bad in [
            "--python python3 --builtin-venv",
            "--no-download",
            "--python",
        ] {
            let err = virtualenv_arguments(&words(bad)).unwrap_err().to_string();
            assert!(err.starts_with("DH_VIRTUALENV_ARGUMENTS: "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = virtualenv_arguments(&words("--builtin-venv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`--builtin-venv`"), "{err}");
    }

    #[test]
    fn upgrades_and_pip_arguments_are_read_as_the_build_system_reads_them() {
        let env = DhVirtualenvEnvironment {
            upgrade_pip: Some(String::new()),
            upgrade_wheel: Some("0.38.4".into()),
            pip_extra_args: words("--no-index --find-links=/w"),
            requirements_file: Some("reqs/prod.txt".into()),
            ..DhVirtualenvEnvironment::default()
        };
        let s = Settings::from_env(&env).unwrap();
        assert_eq!(s.upgrades, ["pip", "wheel==0.38.4"]);
        assert_eq!(s.pip_extra_args, words("--no-index --find-links=/w"));
        assert_eq!(s.requirements, Some(PathBuf::from("reqs/prod.txt")));
        assert_eq!(
            set_variables(&env),
            [
                "DH_REQUIREMENTS_FILE",
                "DH_PIP_EXTRA_ARGS",
                "DH_UPGRADE_PIP",
                "DH_UPGRADE_WHEEL"
            ]
        );
        assert!(set_variables(&DhVirtualenvEnvironment::default()).is_empty());
    }

    #[test]
    fn the_package_whose_build_directory_is_the_destination_is_chosen() {
        let package = |name: &str| Package {
            name: name.into(),
            tmpdir: Path::new("/build/app/debian").join(name),
            source: "app".into(),
            debian_dir: "/build/app/debian".into(),
            automatic_dbgsym: false,
            main: false,
            config_file: None,
            relations: Default::default(),
        };
        let packages = vec![package("app"), package("app-doc")];
        let chosen = destdir_package(
            packages.clone(),
            Path::new("debian/app-doc/"),
            Path::new("/build/app"),
        );
        assert_eq!(chosen, [package("app-doc")]);
        let chosen = destdir_package(packages, Path::new("debian/tmp"), Path::new("/build/app"));
        assert_eq!(chosen, [package("app")]);
        assert!(
            destdir_package(vec![], Path::new("debian/tmp"), Path::new("/build/app")).is_empty()
        );
    }
}
