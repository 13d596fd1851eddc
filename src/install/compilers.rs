//! The compilers and build flags extension modules are built with when pip or uv builds an sdist, and
//! the wrapper script that maps the sdist's randomly named build directories to fixed names.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::command::Command;
use crate::debhelper::Environment;
use crate::interpreter::Interpreter;
use crate::layout::Layout;

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

/// Works out [`Compilers`] from the environment, the interpreter and `dpkg-buildflags`.
///
/// # Errors
/// When a flag is not in the environment and `dpkg-buildflags --get` cannot be run or fails.
pub(super) fn compilers(
    layout: &Layout,
    interpreter: &Interpreter,
    env: &Environment,
) -> Result<Compilers> {
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
fn compiler_wrapper(compiler: &str) -> String {
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

/// Writes the compiler wrappers ([`compiler_wrapper`]) `cc` and `c++` into
/// [`Compilers::wrapper_dir`]; returns the environment that makes setuptools use them: `CC` and `CXX`
/// with the wrappers' paths.
///
/// # Errors
/// When the directory or a wrapper cannot be written; the message names the path.
pub(crate) fn write_compiler_wrappers(compilers: &Compilers) -> Result<Vec<(String, PathBuf)>> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(&compilers.wrapper_dir)
        .with_context(|| format!("creating {}", compilers.wrapper_dir.display()))?;
    let mut env = Vec::new();
    for (name, file, compiler) in [("CC", "cc", &compilers.cc), ("CXX", "c++", &compilers.cxx)] {
        let path = compilers.wrapper_dir.join(file);
        // Replaced, never written through: a wrapper left by an earlier run may be a link.
        crate::tree::replace(&path, compiler_wrapper(compiler).as_bytes())?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
        env.push((name.to_owned(), path));
    }
    Ok(env)
}

/// Sets the build flags of `compilers` and the compiler wrappers ([`write_compiler_wrappers`]) for a
/// pip call.
pub(crate) fn with_compilers(
    mut command: Command,
    compilers: &Compilers,
    wrappers: &[(String, PathBuf)],
) -> Command {
    for (name, value) in &compilers.flags {
        command = command.env(name, value);
    }
    for (name, wrapper) in wrappers {
        command = command.env(name, wrapper);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::fixtures::{env, interpreter, layout};

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
}
