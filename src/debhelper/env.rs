//! The environment: every environment variable dh_rustvenv reads is read here, once, at start-up
//! ([`Environment::from_process`]), and handed forward.

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variables dh_rustvenv reads, and the directory it runs in, captured once at
/// start-up.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The directory the program was started in: the top of the source package, where dh runs every
    /// dh_ program (debhelper(7)). Absolute; every `debian/…` path is made from it, and every
    /// command dh_rustvenv runs starts there. Empty when the directory could not be read.
    pub top: PathBuf,
    /// `DH_INTERNAL_OPTIONS`: options `dh` passes through an override target, separated by `\x1e`.
    pub dh_internal_options: Option<String>,
    /// `DH_OPTIONS`: options parsed before the command line.
    pub dh_options: Option<String>,
    /// `DH_VERBOSE`: any non-empty value turns on verbose output (debhelper(7)).
    pub dh_verbose: bool,
    /// `DH_QUIET`: any non-empty value makes output terser.
    pub dh_quiet: bool,
    /// `DH_NO_ACT`: any non-empty value is the same as `--no-act`.
    pub dh_no_act: bool,
    /// `DEB_BUILD_OPTIONS`, split on white space.
    pub build_options: Vec<String>,
    /// `DH_RUSTVENV_INSTALL_ROOT`: the directory venvs are installed under.
    pub install_root: Option<String>,
    /// The variables of dh-virtualenv 1.2.2: `DH_VIRTUALENV_INSTALL_ROOT`, which its sequence tool and
    /// its build system read, and those only its build system reads ([`crate::buildsystem`]).
    pub dh_virtualenv: DhVirtualenvEnvironment,
    /// `PATH`: where a `--python` given as a bare name (`python3`) is looked up.
    pub path: Option<OsString>,
    /// The compiler settings found in the environment (`CC`, `CXX`, `CFLAGS`, `CXXFLAGS`, `CPPFLAGS`,
    /// `LDFLAGS`), by name; the ones missing here are taken from `dpkg-buildflags` by the install stage.
    pub compiler_settings: Vec<(String, String)>,
    /// `DH_RUSTVENV_TIMINGS` set to a non-empty value: report how long each stage took, as
    /// `--timings` does.
    pub timings: bool,
    /// `SOURCE_DATE_EPOCH`, when set to a whole number of seconds: the time the SBOM gives
    /// (reproducible-builds.org's specification of the variable).
    pub source_date_epoch: Option<i64>,
    /// The architecture variables dpkg-buildpackage exports from dpkg-architecture(1) (`DEB_BUILD_ARCH`,
    /// `DEB_HOST_ARCH`, `DEB_HOST_GNU_TYPE`, `DEB_HOST_MULTIARCH`): a cross build is one whose host
    /// architecture is not the build machine's ([`super::CrossArchitecture`]).
    pub architecture: ArchitectureVariables,
}

/// The dpkg-architecture(1) variables of the environment, each None when unset or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchitectureVariables {
    /// `DEB_BUILD_ARCH`: the Debian architecture of the machine the package is built on (`amd64`).
    pub build_arch: Option<String>,
    /// `DEB_HOST_ARCH`: the Debian architecture the package is built for (`arm64`).
    pub host_arch: Option<String>,
    /// `DEB_HOST_GNU_TYPE`: the GNU triplet of the host (`aarch64-linux-gnu`), the prefix of its
    /// cross tools.
    pub host_gnu_type: Option<String>,
    /// `DEB_HOST_MULTIARCH`: the multiarch directory of the host's libraries (`aarch64-linux-gnu`).
    pub host_multiarch: Option<String>,
}

/// The environment variables of dh-virtualenv 1.2.2, read where it reads them so that a debian/rules
/// written for it keeps working: `DH_VIRTUALENV_INSTALL_ROOT` by the sequence (`deployment.py`) and the
/// build system (`Buildsystem/dh_virtualenv.pm`); every other one by the build system only, so only a
/// `--buildsystem-destdir` run uses them ([`crate::buildsystem::Settings`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhVirtualenvEnvironment {
    /// `DH_VIRTUALENV_INSTALL_ROOT`: the install root (the drop-in reads it before
    /// `DH_RUSTVENV_INSTALL_ROOT`, dh_rustvenv after it).
    pub install_root: Option<String>,
    /// `DH_VIRTUALENV_INSTALL_SUFFIX` (build system only): the venv's name.
    pub install_suffix: Option<String>,
    /// `DH_REQUIREMENTS_FILE` (build system only): the requirements file.
    pub requirements_file: Option<String>,
    /// `DH_PIP_EXTRA_ARGS` (build system only), split on white space: given to the upgrades and the
    /// requirements install.
    pub pip_extra_args: Vec<String>,
    /// `DH_VIRTUALENV_ARGUMENTS` (build system only), split on white space: virtualenv's arguments.
    pub virtualenv_arguments: Vec<String>,
    /// `DH_UPGRADE_PIP` (build system only): when set, pip is upgraded first, to that version or
    /// (empty) the newest.
    pub upgrade_pip: Option<String>,
    /// `DH_UPGRADE_SETUPTOOLS`: likewise for setuptools.
    pub upgrade_setuptools: Option<String>,
    /// `DH_UPGRADE_WHEEL`: likewise for wheel.
    pub upgrade_wheel: Option<String>,
}

/// The environment variables that choose the C/C++ compiler and its flags for extension modules.
pub const COMPILER_VARIABLES: [&str; 6] =
    ["CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"];

impl Environment {
    /// Reads the variables above from the process environment, and the current directory.
    pub fn from_process() -> Environment {
        let var = |name: &str| std::env::var(name).ok();
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        let words = |name: &str| -> Vec<String> {
            var(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        Environment {
            top: std::env::current_dir().unwrap_or_default(),
            dh_internal_options: var("DH_INTERNAL_OPTIONS"),
            dh_options: var("DH_OPTIONS"),
            dh_verbose: set("DH_VERBOSE"),
            dh_quiet: set("DH_QUIET"),
            dh_no_act: set("DH_NO_ACT"),
            build_options: var("DEB_BUILD_OPTIONS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            install_root: var("DH_RUSTVENV_INSTALL_ROOT").filter(|v| !v.is_empty()),
            dh_virtualenv: DhVirtualenvEnvironment {
                install_root: var("DH_VIRTUALENV_INSTALL_ROOT").filter(|v| !v.is_empty()),
                install_suffix: var("DH_VIRTUALENV_INSTALL_SUFFIX").filter(|v| !v.is_empty()),
                requirements_file: var("DH_REQUIREMENTS_FILE").filter(|v| !v.is_empty()),
                pip_extra_args: words("DH_PIP_EXTRA_ARGS"),
                virtualenv_arguments: words("DH_VIRTUALENV_ARGUMENTS"),
                upgrade_pip: var("DH_UPGRADE_PIP"),
                upgrade_setuptools: var("DH_UPGRADE_SETUPTOOLS"),
                upgrade_wheel: var("DH_UPGRADE_WHEEL"),
            },
            path: std::env::var_os("PATH"),
            compiler_settings: COMPILER_VARIABLES
                .iter()
                .filter_map(|name| var(name).map(|value| (name.to_string(), value)))
                .collect(),
            timings: set("DH_RUSTVENV_TIMINGS"),
            source_date_epoch: var("SOURCE_DATE_EPOCH").and_then(|v| v.trim().parse().ok()),
            architecture: ArchitectureVariables {
                build_arch: var("DEB_BUILD_ARCH").filter(|v| !v.is_empty()),
                host_arch: var("DEB_HOST_ARCH").filter(|v| !v.is_empty()),
                host_gnu_type: var("DEB_HOST_GNU_TYPE").filter(|v| !v.is_empty()),
                host_multiarch: var("DEB_HOST_MULTIARCH").filter(|v| !v.is_empty()),
            },
        }
    }

    /// Whether `DEB_BUILD_OPTIONS` holds `name` (or `name=value`), as `Dh_Lib.pm`'s `get_buildoption`.
    pub fn build_option(&self, name: &str) -> bool {
        self.build_options.iter().any(|o| {
            o == name
                || o.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('='))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_options_match_whole_words() {
        let env = Environment {
            build_options: vec!["nostrip".into(), "parallel=2".into()],
            ..Environment::default()
        };
        assert!(env.build_option("nostrip"));
        assert!(env.build_option("parallel"));
        assert!(!env.build_option("nocheck"));
        assert!(!env.build_option("nostr"));
    }
}
