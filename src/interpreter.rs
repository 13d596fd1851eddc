//! The Python interpreter a venv is built with.
//!
//! Takes the `--python` value (a path or a name looked up in `PATH`), asks that interpreter once, as
//! JSON, for its version and ABI, and returns an [`Interpreter`] pinned to the versioned executable it
//! resolves to (`/usr/bin/python3` becomes `/usr/bin/python3.11`). The next stages rely on `path` being
//! the real file the venv's `bin/python` will point at, and on `major_minor` naming the only Python
//! version the venv can run with. Nothing is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::command::Command;

/// A resolved Python interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The real, versioned executable (symlinks resolved), e.g. `/usr/bin/python3.11`.
    pub path: PathBuf,
    /// `sys.version_info[:3]`, e.g. (3, 11, 2).
    pub version: (u32, u32, u32),
    /// `sysconfig.get_config_var("SOABI")`, e.g. `cpython-311-x86_64-linux-gnu` (PEP 3149), or empty.
    pub soabi: String,
    /// The C compiler the interpreter was built with and builds extension modules with
    /// (`sysconfig.get_config_var("CC")`, e.g. `x86_64-linux-gnu-gcc`; may hold options), or empty.
    pub cc: String,
    /// The C++ compiler, likewise (`CXX`), or empty.
    pub cxx: String,
    /// The newest pip wheel the interpreter's ensurepip would install: from its wheel directory
    /// (`sysconfig.get_config_var("WHEEL_PKG_DIR")`, `/usr/share/python-wheels` on Debian, shipped by
    /// python3-pip-whl) or its `ensurepip/_bundled` directory. dh_rustvenv runs pip from it
    /// (`python <wheel>/pip`) against a venv that has no pip of its own. None when there is none.
    pub pip_wheel: Option<PathBuf>,
    /// The version of the pip the interpreter imports from its own site-packages (Debian's
    /// python3-pip: `/usr/lib/python3/dist-packages/pip`), e.g. `23.0.1`; None when it has none.
    /// From pip 22.3 on, pip's runner installs into a venv that has no pip, with bytecode Debian
    /// compiled when it installed pip.
    pub pip_version: Option<String>,
    /// That pip's runner, `<pip>/__pip-runner__.py` (pip 22.3 and later), which runs exactly that pip
    /// under another interpreter (`pip --python` runs it so); None when there is none.
    pub pip_runner: Option<PathBuf>,
    /// The platform the venv's wheels must run on: `platform.machine()` (`x86_64`) and the glibc of
    /// the build machine. A cross build replaces it with the host architecture's.
    pub platform: Platform,
}

/// The machine and C library wheels are chosen for (PEP 425 platform tags, PEP 600 manylinux).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The machine name of platform tags and of PEP 508's `platform_machine` (`x86_64`, `aarch64`).
    pub machine: String,
    /// The glibc minor version (major 2) whose `manylinux_2_<minor>` wheels run; None when the C
    /// library is not glibc (no manylinux wheel runs then).
    pub glibc_minor: Option<u32>,
}

impl Interpreter {
    /// "3.11": the minor version a venv is tied to (its site-packages is `lib/python3.11`).
    pub fn major_minor(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

/// The oldest Python dh_rustvenv builds venvs with: 3.9, the first whose compileall takes `-s` and
/// `-p` (`--ship-bytecode` compiles for the final path with them), and the oldest Python 3 of a
/// Debian release the tool builds on (Debian 11 has 3.9).
pub const MINIMUM_PYTHON: (u32, u32) = (3, 9);

/// What the interpreter is asked; one line of JSON comes back.
const PROBE: &str = "import importlib.util, json, os, sys, sysconfig
dirs = [sysconfig.get_config_var('WHEEL_PKG_DIR') or '']
spec = importlib.util.find_spec('ensurepip')
if spec and spec.origin:
    dirs.append(os.path.join(os.path.dirname(spec.origin), '_bundled'))
def version(name):
    return [int(p) if p.isdigit() else -1 for p in name.split('-')[1].split('.')]
wheels = sorted((version(f), os.path.join(d, f)) for d in dirs if d and os.path.isdir(d)
                for f in os.listdir(d) if f.startswith('pip-') and f.endswith('.whl'))
def pip_version():
    import site
    site.main()
    try:
        import pip
        runner = os.path.join(os.path.dirname(pip.__file__), '__pip-runner__.py')
        return pip.__version__, runner if os.path.isfile(runner) else ''
    except Exception:
        return '', ''
pip = pip_version()
print(json.dumps({
    'pip_wheel': wheels[-1][1] if wheels else '',
    'executable': os.path.realpath(sys.executable),
    'version': list(sys.version_info[:3]),
    'implementation': sys.implementation.name,
    'soabi': sysconfig.get_config_var('SOABI') or '',
    'cc': sysconfig.get_config_var('CC') or '',
    'cxx': sysconfig.get_config_var('CXX') or '',
    'pip_version': pip[0],
    'pip_runner': pip[1],
    'machine': os.uname().machine,
    'libc': os.confstr('CS_GNU_LIBC_VERSION') if 'CS_GNU_LIBC_VERSION' in os.confstr_names else '',
}))";

/// Finds `requested` (an absolute path, a path relative to `top`, the top of the source package, or a
/// bare name such as `python3` looked up in `search_path`, the build's `PATH`) and asks it what it is.
///
/// # Errors
/// When no such executable exists (the message names it and says how to fix it), when it does not run,
/// when it is not CPython [`MINIMUM_PYTHON`] or later (the message names the interpreter and its
/// version, from `--version` when it cannot even run the probe, as Python 2 cannot), or when its
/// answer cannot be read.
pub fn probe(
    requested: &str,
    search_path: Option<&std::ffi::OsStr>,
    top: &std::path::Path,
) -> Result<Interpreter> {
    let found = which::which_in(requested, search_path, top).map_err(|_| {
        anyhow!(
            "Python interpreter `{requested}` not found; install it (for example the python3.11 package) \
             or name another with --python"
        )
    })?;
    let answer = Command::new(&found).args(["-I", "-S", "-c", PROBE]).query();
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            // Python 2 knows no -I and fails before it reads the probe: say what it is instead.
            if let Some(version) = stated_version(&found).filter(|v| too_old(v.0, v.1)) {
                return Err(anyhow!(
                    "`{}` is Python {}.{}.{}; {}",
                    found.display(),
                    version.0,
                    version.1,
                    version.2,
                    needs()
                ));
            }
            return Err(error)
                .with_context(|| format!("asking `{}` for its version", found.display()));
        }
    };
    parse_probe(&answer, &found)
}

/// What dh_rustvenv needs, for the errors about an interpreter that is too old.
fn needs() -> String {
    format!(
        "dh_rustvenv needs Python {}.{} or later; name a Python 3 interpreter with --python (the \
         default is /usr/bin/python3)",
        MINIMUM_PYTHON.0, MINIMUM_PYTHON.1
    )
}

/// Whether Python `major`.`minor` is older than [`MINIMUM_PYTHON`].
fn too_old(major: u32, minor: u32) -> bool {
    (major, minor) < MINIMUM_PYTHON
}

/// The version `interpreter --version` states (`Python 2.7.18`, on stderr before Python 3.4 and on
/// stdout since), or None when it says nothing of the kind.
fn stated_version(interpreter: &Path) -> Option<(u32, u32, u32)> {
    let (_, output) = Command::new(interpreter).arg("--version").capture().ok()?;
    parse_stated_version(&output)
}

/// Reads `Python X.Y.Z` (with a suffix such as `+` or `rc1` after Z allowed) from `--version`'s output.
fn parse_stated_version(output: &str) -> Option<(u32, u32, u32)> {
    let version = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Python "))?;
    let mut parts = version.split('.');
    let number = |part: Option<&str>| -> Option<u32> {
        let digits: String = part?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((
        number(parts.next())?,
        number(parts.next())?,
        number(parts.next()).unwrap_or(0),
    ))
}

fn parse_probe(answer: &str, found: &Path) -> Result<Interpreter> {
    let value: serde_json::Value = serde_json::from_str(answer.trim())
        .with_context(|| format!("reading what `{}` answered: {answer:?}", found.display()))?;
    let implementation = value["implementation"].as_str().unwrap_or_default();
    let version: Vec<u32> = value["version"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|n| n.as_u64())
                .filter_map(|n| u32::try_from(n).ok())
                .collect()
        })
        .unwrap_or_default();
    let (&[major, minor, micro], "cpython") = (version.as_slice(), implementation) else {
        return Err(anyhow!(
            "`{}` is {implementation} {version:?}; dh_rustvenv builds venvs with CPython 3",
            found.display()
        ));
    };
    if too_old(major, minor) {
        return Err(anyhow!(
            "`{}` is Python {major}.{minor}.{micro}; {}",
            found.display(),
            needs()
        ));
    }
    let executable = value["executable"]
        .as_str()
        .ok_or_else(|| anyhow!("`{}` did not say where its executable is", found.display()))?;
    Ok(Interpreter {
        path: PathBuf::from(executable),
        version: (major, minor, micro),
        soabi: value["soabi"].as_str().unwrap_or_default().to_owned(),
        cc: value["cc"].as_str().unwrap_or_default().to_owned(),
        cxx: value["cxx"].as_str().unwrap_or_default().to_owned(),
        pip_wheel: value["pip_wheel"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        pip_version: value["pip_version"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        pip_runner: value["pip_runner"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        platform: Platform {
            machine: value["machine"].as_str().unwrap_or_default().to_owned(),
            glibc_minor: value["libc"].as_str().and_then(glibc_minor),
        },
    })
}

/// The minor version of `glibc 2.36`, as `os.confstr('CS_GNU_LIBC_VERSION')` reads.
fn glibc_minor(libc: &str) -> Option<u32> {
    let version = libc.strip_prefix("glibc ")?;
    let (major, minor) = version.split_once('.')?;
    if major != "2" {
        return None;
    }
    minor.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glibc_version_is_read_from_confstr() {
        assert_eq!(glibc_minor("glibc 2.36"), Some(36));
        assert_eq!(glibc_minor("glibc 2.41.9000"), Some(41));
        assert_eq!(glibc_minor("musl 1.2"), None);
        assert_eq!(glibc_minor(""), None);
    }

    #[test]
    fn reads_the_probe_answer() {
        let answer = r#"{"executable": "/usr/bin/python3.11", "version": [3, 11, 2], "implementation": "cpython", "soabi": "cpython-311-x86_64-linux-gnu", "cc": "x86_64-linux-gnu-gcc", "cxx": "x86_64-linux-gnu-g++"}"#;
        let interp = parse_probe(answer, Path::new("/usr/bin/python3")).unwrap();
        assert_eq!(interp.path, PathBuf::from("/usr/bin/python3.11"));
        assert_eq!(interp.major_minor(), "3.11");
        assert_eq!(interp.soabi, "cpython-311-x86_64-linux-gnu");
        assert_eq!(interp.cc, "x86_64-linux-gnu-gcc");
    }

    #[test]
    fn refuses_other_implementations_and_garbage() {
        let pypy = r#"{"executable": "/usr/bin/pypy3", "version": [3, 9, 16], "implementation": "pypy", "soabi": ""}"#;
        assert!(parse_probe(pypy, Path::new("pypy3")).is_err());
        assert!(parse_probe("Traceback", Path::new("x")).is_err());
    }

    #[test]
    fn missing_interpreter_names_itself() {
        let err = probe("/nonexistent/python9.9", None, Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/python9.9"), "{err}");
    }

    #[test]
    fn a_bare_name_is_looked_up_in_the_path_given() {
        let found = probe(
            "python3",
            Some(std::ffi::OsStr::new("/usr/bin")),
            Path::new("/"),
        )
        .unwrap();
        let path = found.path.to_string_lossy();
        assert!(path.starts_with("/usr/bin/python3."), "{found:?}");
        let err = probe(
            "python3",
            Some(std::ffi::OsStr::new("/nonexistent")),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`python3` not found"), "{err}");
    }

    #[test]
    fn a_python_2_is_named_with_its_version_in_one_line() {
        // Debian 12 has no python2: this script stands in for Python 2.7, which prints its version on
        // stderr and stops at -I, an option it does not know, before it reads the probe.
        let dir = tempfile::tempdir().unwrap();
        let python2 = dir.path().join("python2");
        std::fs::write(
            &python2,
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo 'Python 2.7.18' >&2; exit 0; fi\n\
             echo 'Unknown option: -I' >&2\n\
             echo 'usage: python2 [option] ... [-c cmd | -m mod | file | -] [arg] ...' >&2\n\
             echo \"Try 'python -h' for more information.\" >&2\n\
             exit 2\n",
        )
        .unwrap();
        let mut permissions = std::fs::metadata(&python2).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&python2, permissions).unwrap();
        let err = probe("python2", Some(dir.path().as_os_str()), Path::new("/")).unwrap_err();
        let message = format!("{err:#}");
        assert_eq!(
            message,
            format!(
                "`{}` is Python 2.7.18; dh_rustvenv needs Python 3.9 or later; name a Python 3 \
                 interpreter with --python (the default is /usr/bin/python3)",
                python2.display()
            )
        );
    }

    #[test]
    fn an_old_python_3_is_refused_naming_the_minimum() {
        let answer = r#"{"executable": "/usr/bin/python3.7", "version": [3, 7, 3], "implementation": "cpython"}"#;
        let err = parse_probe(answer, Path::new("/usr/bin/python3.7")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`/usr/bin/python3.7` is Python 3.7.3; dh_rustvenv needs Python 3.9"),
            "{err}"
        );
    }

    #[test]
    fn the_stated_version_is_read_from_either_stream() {
        assert_eq!(parse_stated_version("Python 2.7.18\n"), Some((2, 7, 18)));
        assert_eq!(parse_stated_version("Python 3.13.0rc1"), Some((3, 13, 0)));
        assert_eq!(parse_stated_version("Python 3.11.2+"), Some((3, 11, 2)));
        assert_eq!(parse_stated_version("no python here"), None);
    }
}
