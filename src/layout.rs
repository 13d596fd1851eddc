//! Where one package's venv is built and where it will live ([`Layout`]), which front door the run came
//! through ([`Flavour`]), and the path arithmetic every stage shares ([`normalize`], [`spellings`]).
//!
//! The layout is made once per package, from the options and the [`Environment`], and every path a
//! stage writes to is made from it: no stage reads the current directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::tree::normalize;

use anyhow::{Result, bail};

use crate::debhelper::{Environment, Package};
use crate::options::Options;

/// The directory venvs are installed under when `DH_RUSTVENV_INSTALL_ROOT` is not set.
pub const DEFAULT_INSTALL_ROOT: &str = "/opt/venvs";

/// The install root of dh-virtualenv 1.2.2's build system when `DH_VIRTUALENV_INSTALL_ROOT` is not set
/// (`Buildsystem/dh_virtualenv.pm`, `get_install_root`; its sequence tool's default is `/opt/venvs`).
pub const BUILD_SYSTEM_INSTALL_ROOT: &str = "/usr/share/python";

/// dh_rustvenv's work directory, relative to the top of the source package; dh_clean removes it.
pub const WORK_DIR: &str = "debian/.debhelper/rustvenv";

/// Which front door a run came through: it decides the defaults and where dependencies are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `dh_rustvenv` (`dh --with rustvenv`): `DH_RUSTVENV_INSTALL_ROOT` first, dependencies in
    /// `${rustvenv:Depends}`, `${rustvenv:Recommends}` and `${rustvenv:Suggests}`.
    Rustvenv,
    /// `dh_virtualenv` from the dh-virtualenv drop-in (`dh --with python-virtualenv`), for a
    /// debian/ directory written for dh-virtualenv 1.2.2 and left unedited: `DH_VIRTUALENV_INSTALL_ROOT`
    /// first, and the dependencies in the substvars such a debian/control already names: the
    /// interpreter in `${misc:Depends}` (where debhelper tools put what their own output needs), the
    /// shared libraries in `${shlibs:Depends}` (where dh_shlibdeps put them for dh-virtualenv).
    DhVirtualenv,
}

impl Flavour {
    /// The flavour of a program name (the file name it was run as): `dh_virtualenv` is the drop-in,
    /// anything else is dh_rustvenv.
    pub fn of_program(name: &str) -> Flavour {
        if name == "dh_virtualenv" {
            Flavour::DhVirtualenv
        } else {
            Flavour::Rustvenv
        }
    }

    /// The name used in the state file.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Rustvenv => "rustvenv",
            Flavour::DhVirtualenv => "dh_virtualenv",
        }
    }

    /// The flavour of a [`Flavour::name`].
    pub fn from_name(name: &str) -> Option<Flavour> {
        [Flavour::Rustvenv, Flavour::DhVirtualenv]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// Where one package's venv is built and where it will live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The binary package's name.
    pub package: String,
    /// The top of the source package (absolute): the directory dh runs in.
    pub top: PathBuf,
    /// The Python project's directory (absolute): the top of the source package, or `-D`.
    pub source_dir: PathBuf,
    /// Where the venv is built (absolute): `<tmpdir>/<final_root>`, e.g.
    /// `/build/demo-1.0/debian/demo/opt/venvs/demo`.
    pub staging_root: PathBuf,
    /// The package build directory the venv is built in (absolute): the package's tmpdir
    /// (`debian/<package>`, or `-P`), or the build system's destination directory.
    pub build_dir: PathBuf,
    /// Whether the package build directory was given on the command line (`-P`, or the build
    /// system's destination directory), and so may lie outside the source package.
    pub build_dir_explicit: bool,
    /// Where the venv lives once the package is installed: `<install root>/<install suffix>`, e.g.
    /// `/opt/venvs/demo`.
    pub final_root: PathBuf,
    /// dh_rustvenv's scratch directory, `debian/.debhelper/rustvenv` (absolute); dh_clean removes it.
    pub work_dir: PathBuf,
}

impl Layout {
    /// Works out the layout of `package` from the options and the environment, relative to `top`, the
    /// top of the source package (the directory dh runs in). The install root is
    /// `DH_RUSTVENV_INSTALL_ROOT`, else `DH_VIRTUALENV_INSTALL_ROOT`, else /opt/venvs; the
    /// [`Flavour::DhVirtualenv`] drop-in reads `DH_VIRTUALENV_INSTALL_ROOT` first. The venv's name is
    /// `--install-suffix`, else the package's name. The root is normalized (`/usr/lib/` and `/usr//lib`
    /// are `/usr/lib`), so every output names `/usr/lib/<name>`.
    ///
    /// In dh-virtualenv's build-system mode (`--buildsystem-destdir DIR`) the defaults are that build
    /// system's (dh-virtualenv 1.2.2, `Buildsystem/dh_virtualenv.pm`): the root is
    /// `DH_VIRTUALENV_INSTALL_ROOT`, else `/usr/share/python`; the name `--install-suffix`, else
    /// `DH_VIRTUALENV_INSTALL_SUFFIX`, else the source package's name; the venv is built under DIR
    /// (dh_auto_install's destination: the package build directory, or debian/tmp).
    ///
    /// # Errors
    /// When the install root is not an absolute path, the install suffix is not a plain directory
    /// name, or the source directory does not exist.
    pub fn new(
        package: &Package,
        options: &Options,
        env: &Environment,
        top: &Path,
        flavour: Flavour,
    ) -> Result<Layout> {
        let ours = env.install_root.as_deref();
        let theirs = env.dh_virtualenv.install_root.as_deref();
        let destdir = options.venv.buildsystem_destdir.as_deref();
        let root = match (destdir, flavour) {
            (Some(_), _) => theirs.or(Some(BUILD_SYSTEM_INSTALL_ROOT)),
            (None, Flavour::Rustvenv) => ours.or(theirs),
            (None, Flavour::DhVirtualenv) => theirs.or(ours),
        }
        .unwrap_or(DEFAULT_INSTALL_ROOT);
        let root = normalize(Path::new(root));
        if !root.is_absolute() || root == Path::new("/") {
            bail!(
                "the install root (DH_RUSTVENV_INSTALL_ROOT or DH_VIRTUALENV_INSTALL_ROOT) must be an \
                 absolute directory such as /opt/venvs, not `{}`",
                root.display()
            );
        }
        let default_name = match destdir {
            Some(_) => match &env.dh_virtualenv.install_suffix {
                Some(suffix) => suffix.clone(),
                None => package.source.clone(),
            },
            None => package.name.clone(),
        };
        let suffix = options
            .venv
            .install_suffix
            .as_deref()
            .unwrap_or(&default_name);
        if suffix.is_empty() || suffix.contains('/') || suffix == "." || suffix == ".." {
            bail!("--install-suffix must be a plain directory name, not `{suffix}`");
        }
        let final_root = root.join(suffix);
        let source_dir = normalize(
            &top.join(
                options
                    .venv
                    .sourcedirectory
                    .as_deref()
                    .unwrap_or(Path::new(".")),
            ),
        );
        if !source_dir.is_dir() {
            bail!(
                "source directory {} not found (named with -D/--sourcedirectory)",
                source_dir.display()
            );
        }
        let relative_final = final_root.strip_prefix("/").unwrap_or(&final_root);
        let build_dir = normalize(&top.join(destdir.unwrap_or(&package.tmpdir)));
        Ok(Layout {
            package: package.name.clone(),
            top: top.to_path_buf(),
            source_dir,
            staging_root: build_dir.join(relative_final),
            build_dir,
            build_dir_explicit: destdir.is_some() || options.debhelper.tmpdir.is_some(),
            final_root,
            work_dir: top.join(WORK_DIR),
        })
    }
}

/// The ways a path may be spelled in files: as given and, when it differs, with symlinks resolved.
pub fn spellings(path: &Path) -> Vec<Vec<u8>> {
    let mut out = vec![path.as_os_str().as_encoded_bytes().to_vec()];
    if let Ok(canonical) = fs::canonicalize(path) {
        let canonical = canonical.into_os_string().into_encoded_bytes();
        if canonical != out[0] {
            out.push(canonical);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source tree at `dir` with one binary package `app` of the source package `legacy`.
    fn source_tree(dir: &Path) -> Package {
        std::fs::create_dir(dir.join("debian")).unwrap();
        std::fs::write(
            dir.join("debian/control"),
            "Source: legacy\n\nPackage: app\n",
        )
        .unwrap();
        Package {
            name: "app".into(),
            tmpdir: dir.join("debian/app"),
            source: "legacy".into(),
            debian_dir: dir.join("debian"),
            automatic_dbgsym: false,
            main: true,
            config_file: None,
            relations: Default::default(),
        }
    }

    fn options(args: &[&str]) -> crate::options::Options {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        crate::options::parse(&args, None, None).unwrap().options
    }

    #[test]
    fn layouts_follow_the_build_systems_defaults_and_normalize_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        let package = source_tree(top);
        let mut env = crate::debhelper::Environment::default();
        let layout = |options: &[&str], env: &crate::debhelper::Environment| {
            Layout::new(
                &package,
                &options_of(options),
                env,
                top,
                Flavour::DhVirtualenv,
            )
            .unwrap()
        };
        fn options_of(args: &[&str]) -> crate::options::Options {
            options(args)
        }
        // The sequence: /opt/venvs/<package>, DH_VIRTUALENV_INSTALL_SUFFIX not read.
        env.dh_virtualenv.install_suffix = Some("named".into());
        let sequence = layout(&[], &env);
        assert_eq!(sequence.final_root, Path::new("/opt/venvs/app"));
        assert_eq!(sequence.staging_root, top.join("debian/app/opt/venvs/app"));
        // The build system: /usr/share/python/<source>, or DH_VIRTUALENV_INSTALL_SUFFIX.
        let built = layout(&["--buildsystem-destdir=debian/tmp"], &env);
        assert_eq!(built.final_root, Path::new("/usr/share/python/named"));
        assert_eq!(
            built.staging_root,
            top.join("debian/tmp/usr/share/python/named")
        );
        env.dh_virtualenv.install_suffix = None;
        let built = layout(&["--buildsystem-destdir=debian/app"], &env);
        assert_eq!(built.final_root, Path::new("/usr/share/python/legacy"));
        // A root written with a trailing or double slash.
        for root in ["/usr/lib/", "/usr//lib", "/usr/lib/."] {
            env.dh_virtualenv.install_root = Some(root.into());
            assert_eq!(layout(&[], &env).final_root, Path::new("/usr/lib/app"));
            let built = layout(&["--buildsystem-destdir=debian/app"], &env);
            assert_eq!(built.final_root, Path::new("/usr/lib/legacy"));
            assert_eq!(built.staging_root, top.join("debian/app/usr/lib/legacy"));
        }
    }
}
