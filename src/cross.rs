//! The target of a cross build: which wheels a venv built on one architecture for another must hold.
//!
//! Takes the [`CrossArchitecture`] of the environment and the [`Interpreter`] the build machine runs,
//! and returns a [`CrossTarget`]: the host's [`Platform`] (its manylinux machine name, and the glibc
//! of the host architecture's libc6), the wheel tags the venv's interpreter accepts there, and the
//! arguments that make pip and uv choose them. The venv itself needs nothing of the host: the layout
//! `python3.X -m venv` writes is the same on every 64-bit Linux architecture (`bin/`,
//! `lib/python3.X/site-packages`, the `lib64` link, `pyvenv.cfg` naming `/usr/bin`), bytecode is
//! compiled at installation, relocation is text, and the ELF stages read any machine. Runs
//! dpkg-query once; writes nothing.

use anyhow::{Result, anyhow};

use crate::command::Command;
use crate::debhelper::CrossArchitecture;
use crate::interpreter::{Interpreter, Platform};
use crate::tags::{Tag, compatible_tags};
use crate::wheelhouse::{manylinux_machine, manylinux_platforms};

/// What a cross build installs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossTarget {
    /// The architectures of the build.
    pub architecture: CrossArchitecture,
    /// The host's platform: `aarch64`, and the minor version of the host's glibc.
    pub platform: Platform,
    /// The CPython minor version (3.`python_minor`): the build machine's interpreter's, which the
    /// venv's `bin/python` names on the host too.
    pub python_minor: u32,
}

impl CrossTarget {
    /// The cross target of a build for `architecture` with `interpreter`. The host's glibc is that of
    /// its libc6 package (`dpkg-query -W libc6:arm64`, installed by `dpkg --add-architecture arm64`
    /// and crossbuild-essential-arm64, or by `sbuild --host`); without it, the build machine's glibc
    /// is taken, as both architectures then come from one release.
    ///
    /// # Errors
    /// When the host architecture has no manylinux wheels (PEP 599, PEP 600), so no wheel can be
    /// chosen for it: the message names the architecture.
    pub fn new(architecture: CrossArchitecture, interpreter: &Interpreter) -> Result<CrossTarget> {
        let machine = manylinux_machine(&architecture.host_arch).ok_or_else(|| {
            anyhow!(
                "cross build for {}: there are no manylinux wheels for that architecture, so \
                 dh_rustvenv cannot choose wheels for it; build on a {} machine instead",
                architecture.host_arch,
                architecture.host_arch
            )
        })?;
        let libc = Command::new("dpkg-query")
            .args(["-W", "-f=${Version}"])
            .arg(format!("libc6:{}", architecture.host_arch))
            .query()
            .ok();
        let glibc_minor = libc
            .as_deref()
            .and_then(glibc_minor_of_version)
            .or(interpreter.platform.glibc_minor);
        Ok(CrossTarget {
            architecture,
            platform: Platform {
                machine: machine.to_owned(),
                glibc_minor,
            },
            python_minor: interpreter.version.1,
        })
    }

    /// The wheel tags the venv's interpreter installs on the host, most preferred first
    /// ([`compatible_tags`]).
    pub fn tags(&self) -> Vec<Tag> {
        compatible_tags(
            self.python_minor,
            &self.platform.machine,
            self.platform.glibc_minor,
        )
    }

    /// The tag a wheel of compiled code needs on the host, for messages:
    /// `cp311-cp311-manylinux_2_36_aarch64` (or `linux_aarch64` without glibc).
    pub fn binary_tag(&self) -> String {
        let cp = format!("cp3{}", self.python_minor);
        match self.platform.glibc_minor {
            Some(glibc) => format!("{cp}-{cp}-manylinux_2_{glibc}_{}", self.platform.machine),
            None => format!("{cp}-{cp}-linux_{}", self.platform.machine),
        }
    }

    /// The arguments that make `pip install --target` (and `pip download`) choose the host's wheels:
    /// `--only-binary=:all:`, `--python-version`, `--implementation=cp`, the ABIs `cp3XY`, `abi3` and
    /// `none`, and every manylinux platform of the host's glibc, newest first, then
    /// `linux_<machine>` and `any`.
    ///
    /// # References
    /// pip install's `--platform`, `--abi`, `--implementation` and `--python-version`, which need
    /// `--target` (or `--dry-run`) and `--only-binary=:all:`.
    pub fn pip_args(&self) -> Vec<String> {
        let mut args = vec![
            "--only-binary=:all:".to_owned(),
            format!("--python-version=3.{}", self.python_minor),
            "--implementation=cp".to_owned(),
            format!("--abi=cp3{}", self.python_minor),
            "--abi=abi3".to_owned(),
            "--abi=none".to_owned(),
        ];
        let mut platforms = self
            .platform
            .glibc_minor
            .map(|glibc| manylinux_platforms(glibc, &self.platform.machine))
            .unwrap_or_default();
        platforms.push(format!("linux_{}", self.platform.machine));
        platforms.push("any".to_owned());
        args.extend(platforms.into_iter().map(|p| format!("--platform={p}")));
        args
    }

    /// uv's `--python-platform` value for the host: `aarch64-manylinux_2_36`, or
    /// `aarch64-unknown-linux-gnu` when the host's glibc is unknown.
    pub fn uv_platform(&self) -> String {
        match self.platform.glibc_minor {
            Some(glibc) => format!("{}-manylinux_2_{glibc}", self.platform.machine),
            None => format!("{}-unknown-linux-gnu", self.platform.machine),
        }
    }
}

/// The glibc minor version of a libc6 package version: 36 of `2.36-9+deb12u10`.
fn glibc_minor_of_version(version: &str) -> Option<u32> {
    let version = version.trim();
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    let (major, rest) = version.split_once('.')?;
    if major != "2" {
        return None;
    }
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm64() -> CrossTarget {
        CrossTarget {
            architecture: CrossArchitecture {
                build_arch: "amd64".into(),
                host_arch: "arm64".into(),
                host_gnu_type: "aarch64-linux-gnu".into(),
                host_multiarch: "aarch64-linux-gnu".into(),
            },
            platform: Platform {
                machine: "aarch64".into(),
                glibc_minor: Some(36),
            },
            python_minor: 11,
        }
    }

    #[test]
    fn the_host_glibc_is_read_from_the_libc6_version() {
        assert_eq!(glibc_minor_of_version("2.36-9+deb12u10"), Some(36));
        assert_eq!(glibc_minor_of_version("2.41-12\n"), Some(41));
        assert_eq!(glibc_minor_of_version("1:2.31-13"), Some(31));
        assert_eq!(glibc_minor_of_version(""), None);
    }

    #[test]
    fn pip_and_uv_are_told_the_host_platform() {
        let target = arm64();
        let args = target.pip_args();
        assert_eq!(args[0], "--only-binary=:all:");
        assert!(args.contains(&"--abi=cp311".to_owned()));
        assert!(args.contains(&"--platform=manylinux_2_36_aarch64".to_owned()));
        assert!(args.contains(&"--platform=manylinux2014_aarch64".to_owned()));
        assert!(!args.iter().any(|a| a.contains("x86_64")));
        assert_eq!(args.last().unwrap(), "--platform=any");
        assert_eq!(target.uv_platform(), "aarch64-manylinux_2_36");
        assert_eq!(target.binary_tag(), "cp311-cp311-manylinux_2_36_aarch64");
        assert_eq!(
            target.tags()[0].to_string(),
            "cp311-cp311-manylinux_2_36_aarch64"
        );
    }

    #[test]
    fn an_architecture_without_manylinux_wheels_is_refused() {
        let interpreter = Interpreter {
            path: "/usr/bin/python3.11".into(),
            version: (3, 11, 2),
            soabi: String::new(),
            cc: String::new(),
            cxx: String::new(),
            pip_wheel: None,
            pip_version: None,
            pip_runner: None,
            platform: Platform {
                machine: "x86_64".into(),
                glibc_minor: Some(36),
            },
        };
        let mut architecture = arm64().architecture;
        architecture.host_arch = "hurd-i386".into();
        let err = CrossTarget::new(architecture, &interpreter).unwrap_err();
        assert!(err.to_string().contains("hurd-i386"), "{err}");
    }
}
