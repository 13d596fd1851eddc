//! Cross builds, detected the Debian way: the host architecture (the one the package is built for)
//! is not the build machine's.
//!
//! dpkg-buildpackage exports the dpkg-architecture(1) variables to debian/rules, so under
//! `dpkg-buildpackage -a arm64` (or `sbuild --host=arm64`) dh_rustvenv finds `DEB_HOST_ARCH=arm64`
//! in its environment ([`ArchitectureVariables`]). A variable missing there is asked of
//! dpkg-architecture, as debhelper's `dpkg_architecture_value` does; with no `DEB_HOST_ARCH` at all
//! the build is native and nothing is run.

use anyhow::{Context, Result};

use super::env::ArchitectureVariables;
use crate::command::Command;

/// The architectures of a cross build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossArchitecture {
    /// `DEB_BUILD_ARCH`: the build machine's Debian architecture (`amd64`).
    pub build_arch: String,
    /// `DEB_HOST_ARCH`: the Debian architecture of the package (`arm64`).
    pub host_arch: String,
    /// `DEB_HOST_GNU_TYPE`: the GNU triplet of the host (`aarch64-linux-gnu`).
    pub host_gnu_type: String,
    /// `DEB_HOST_MULTIARCH`: the host's multiarch directory name (`aarch64-linux-gnu`).
    pub host_multiarch: String,
}

impl CrossArchitecture {
    /// The cross build `variables` describe, or None for a native build (no `DEB_HOST_ARCH`, or the
    /// same as `DEB_BUILD_ARCH`). Variables missing from the environment are asked of
    /// `dpkg-architecture -a<host> -f -q<VARIABLE>` (`-f`: not the environment's values).
    ///
    /// # Errors
    /// When dpkg-architecture must be asked and cannot be run; the message names the variable.
    ///
    /// # References
    /// dpkg-architecture(1) ("Variables"), dpkg-buildpackage(1) (`-a`, `--host-arch`); debhelper's
    /// `Dh_Lib.pm` (`dpkg_architecture_value`, `is_cross_compiling`).
    pub fn detect(variables: &ArchitectureVariables) -> Result<Option<CrossArchitecture>> {
        let Some(host_arch) = variables.host_arch.clone() else {
            return Ok(None);
        };
        let ask = |known: &Option<String>, name: &str| -> Result<String> {
            if let Some(value) = known {
                return Ok(value.clone());
            }
            // -f: the values of the environment's DEB_* variables (a native build's, exported by
            // dpkg-buildpackage) would otherwise be printed as they are, whatever -a says.
            let answer = Command::new("dpkg-architecture")
                .arg(format!("-a{host_arch}"))
                .arg("-f")
                .arg(format!("-q{name}"))
                .query()
                .with_context(|| format!("asking dpkg-architecture for {name}"))?;
            Ok(answer.trim().to_owned())
        };
        let build_arch = ask(&variables.build_arch, "DEB_BUILD_ARCH")?;
        if build_arch == host_arch {
            return Ok(None);
        }
        Ok(Some(CrossArchitecture {
            host_gnu_type: ask(&variables.host_gnu_type, "DEB_HOST_GNU_TYPE")?,
            host_multiarch: ask(&variables.host_multiarch, "DEB_HOST_MULTIARCH")?,
            build_arch,
            host_arch,
        }))
    }

    /// The host's binutils program `name`: `aarch64-linux-gnu-strip` for `strip`.
    ///
    /// # References
    /// debhelper's `Dh_Lib.pm` (`cross_command`), which dh_strip(1) runs strip and objcopy through.
    pub fn tool(&self, name: &str) -> String {
        format!("{}-{name}", self.host_gnu_type)
    }
}

/// The binutils program `name` for the packages being built: the host's (`aarch64-linux-gnu-strip`)
/// in a cross build, the build machine's (`strip`) otherwise.
pub fn host_tool(cross: Option<&CrossArchitecture>, name: &str) -> String {
    match cross {
        Some(cross) => cross.tool(name),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_is_cross_only_when_the_host_differs() {
        assert_eq!(
            CrossArchitecture::detect(&ArchitectureVariables::default()).unwrap(),
            None
        );
        let same = ArchitectureVariables {
            build_arch: Some("amd64".into()),
            host_arch: Some("amd64".into()),
            ..Default::default()
        };
        assert_eq!(CrossArchitecture::detect(&same).unwrap(), None);
        let arm64 = ArchitectureVariables {
            build_arch: Some("amd64".into()),
            host_arch: Some("arm64".into()),
            host_gnu_type: Some("aarch64-linux-gnu".into()),
            host_multiarch: Some("aarch64-linux-gnu".into()),
        };
        let cross = CrossArchitecture::detect(&arm64).unwrap().unwrap();
        assert_eq!(cross.tool("strip"), "aarch64-linux-gnu-strip");
        assert_eq!(
            host_tool(Some(&cross), "objcopy"),
            "aarch64-linux-gnu-objcopy"
        );
        assert_eq!(host_tool(None, "objcopy"), "objcopy");
    }

    #[test]
    fn missing_variables_are_asked_of_dpkg_architecture() {
        let only_host = ArchitectureVariables {
            build_arch: Some("amd64".into()),
            host_arch: Some("arm64".into()),
            ..Default::default()
        };
        let cross = CrossArchitecture::detect(&only_host).unwrap().unwrap();
        assert_eq!(cross.host_gnu_type, "aarch64-linux-gnu");
        assert_eq!(cross.host_multiarch, "aarch64-linux-gnu");
    }
}
