//! The packages to act on: which binary packages `dh_listpackages` selects, their package build
//! directories and debhelper files (`pkgfile`), and their dh_rustvenv configuration files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use super::control::{Relations, read_control};
use crate::command::Command;

/// A binary package to act on, and its package build directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The binary package's name, from `debian/control`.
    pub name: String,
    /// The package build directory (absolute): `debian/<name>`, or the `-P`/`--tmpdir` directory.
    pub tmpdir: PathBuf,
    /// Whether debug information of its stripped files goes to an automatic `<name>-dbgsym` package,
    /// as dh_strip decides: the package is not `Architecture: all`, `debian/control` has no package of
    /// that name, and its own name does not end in `-dbg` or `-dbgsym`.
    pub automatic_dbgsym: bool,
    /// Whether it is the first package of `debian/control`, which may use `debian/<file>` for
    /// `debian/<name>.<file>`.
    pub main: bool,
    /// Its dh_rustvenv configuration file, [`Package::pkgfile`] of `rustvenv`.
    pub config_file: Option<PathBuf>,
    /// Its relation fields in `debian/control` ([`super::read_control`]).
    pub relations: Relations,
    /// The source package's name (the `Source` field of `debian/control`), which dpkg-gencontrol
    /// writes into the binary package and lintian reads its overrides by; the package's own name when
    /// the field cannot be read.
    pub source: String,
    /// The source package's `debian/` directory (absolute), where its debhelper files, substvars and
    /// maintainer-script snippets are.
    pub debian_dir: PathBuf,
}

impl Package {
    /// The package's debhelper file of that name, as `Dh_Lib.pm`'s `pkgfile` finds it:
    /// `debian/<name>.<file>`, or `debian/<file>` for the first package; None when neither exists.
    pub fn pkgfile(&self, file: &str) -> Option<PathBuf> {
        pkgfile(&self.debian_dir, &self.name, self.main, file)
    }

    /// `path` as messages name it: relative to the top of the source package (`debian/demo.rustvenv`)
    /// when it is inside it, as the user wrote it.
    pub fn shown<'a>(&self, path: &'a Path) -> std::path::Display<'a> {
        let top = self.debian_dir.parent().unwrap_or(&self.debian_dir);
        path.strip_prefix(top).unwrap_or(path).display()
    }

    /// `debian/<package>.<suffix>` (absolute), for the files debhelper tools write for a package
    /// (`substvars`, `postinst.debhelper`).
    pub fn debian_file(&self, suffix: &str) -> PathBuf {
        self.debian_dir.join(format!("{}.{suffix}", self.name))
    }
}

/// [`Package::pkgfile`] for the package `name` of the `debian` directory, `main` when it is the first
/// of `debian/control`.
fn pkgfile(debian: &Path, name: &str, main: bool, file: &str) -> Option<PathBuf> {
    let own = debian.join(format!("{name}.{file}"));
    let shared = debian.join(file);
    if own.is_file() {
        Some(own)
    } else if main && shared.is_file() {
        Some(shared)
    } else {
        None
    }
}

/// The packages to act on, in `debian/control` order, from `dh_listpackages` run in `top` (the top of
/// the source package) with the same selection options (it also reads `DH_INTERNAL_OPTIONS` and the
/// build profiles from the environment).
///
/// # Errors
/// When `dh_listpackages` cannot be run (debhelper not installed) or fails (no `debian/control`, a
/// package named with -p that does not exist).
pub fn selected_packages(
    top: &Path,
    selection_args: &[String],
    selection_dh_options: &str,
    tmpdir: Option<&Path>,
) -> Result<Vec<Package>> {
    let list = |args: &[String], dh_options: Option<&str>| -> Result<Vec<String>> {
        let mut command = Command::new("dh_listpackages").args(args).dir(top);
        command = match dh_options {
            Some(value) => command.env("DH_OPTIONS", value),
            // The whole source package, whatever dh selected for this run.
            None => command
                .env_remove("DH_OPTIONS")
                .env_remove("DH_INTERNAL_OPTIONS"),
        };
        let listing = command.query().context("listing the packages to act on")?;
        Ok(listing
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    };
    let selected = list(selection_args, Some(selection_dh_options))?;
    if selected.is_empty() {
        return Ok(Vec::new());
    }
    let all = list(&[], None)?;
    let indep = list(&["-i".to_owned()], None)?;
    let debian = top.join("debian");
    let control = read_control(&debian.join("control"))?;
    let mut relations = control.relations;
    Ok(selected
        .into_iter()
        .map(|name| Package {
            relations: relations.remove(&name).unwrap_or_default(),
            main: all.first() == Some(&name),
            config_file: pkgfile(&debian, &name, all.first() == Some(&name), "rustvenv"),
            source: control.source.clone().unwrap_or_else(|| name.clone()),
            debian_dir: debian.clone(),
            tmpdir: crate::tree::normalize(
                &top.join(tmpdir.map_or_else(|| debian.join(&name), |d| top.join(d))),
            ),
            automatic_dbgsym: !indep.contains(&name)
                && !all.contains(&format!("{name}-dbgsym"))
                && !name.ends_with("-dbg")
                && !name.ends_with("-dbgsym"),
            name,
        })
        .collect())
}

/// Reads a package's configuration file: dh_rustvenv options, as on the command line, any number on
/// a line, split as a POSIX shell splits words; empty lines and lines starting with `#` are skipped.
/// An executable file is run instead (debhelper(7), "Executable debhelper config files", which dh-exec
/// relies on), in `top` (the top of the source package), with `DH_CONFIG_ACT_ON_PACKAGES` set to the
/// package, and its output is read.
///
/// # Errors
/// When the file cannot be read, the executable fails, or a line has an unterminated quote; the
/// message names the file (relative to `top`) and the line.
pub fn read_package_config(path: &Path, package: &str, top: &Path) -> Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let path = &top.join(path);
    let shown = path.strip_prefix(top).unwrap_or(path).display();
    let executable = crate::tree::is_executable(
        fs::metadata(path)
            .with_context(|| format!("reading {shown}"))?
            .permissions()
            .mode(),
    );
    let text = if executable {
        Command::new(path)
            .dir(top)
            .env("DH_CONFIG_ACT_ON_PACKAGES", package)
            .query()
            .with_context(|| format!("running the executable configuration file {shown}"))?
    } else {
        fs::read_to_string(path).with_context(|| format!("reading {shown}"))?
    };
    let mut words = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let split =
            shell_words::split(line).map_err(|e| anyhow!("{shown}, line {}: {e}", number + 1))?;
        words.extend(split);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_config_is_read_as_shell_words_or_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("demo.rustvenv");
        fs::write(
            &plain,
            "# options for demo\n--requirements 'reqs/base file.txt'\n\n--extras=web --test\n",
        )
        .unwrap();
        assert_eq!(
            read_package_config(&plain, "demo", dir.path()).unwrap(),
            [
                "--requirements",
                "reqs/base file.txt",
                "--extras=web",
                "--test"
            ]
        );
        let script = dir.path().join("other.rustvenv");
        fs::write(
            &script,
            "#!/bin/sh\necho \"--install-suffix=$DH_CONFIG_ACT_ON_PACKAGES-venv\"\n",
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            read_package_config(&script, "other", dir.path()).unwrap(),
            ["--install-suffix=other-venv"]
        );
        fs::write(&plain, "--requirements 'unterminated\n").unwrap();
        let err = read_package_config(&plain, "demo", dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("demo.rustvenv, line 1"), "{err}");
    }
}
