//! Bytecode: the maintainer-script snippets that compile and clean it, or the bytecode shipped.
//!
//! Takes the venv's final path and the package's [`Bytecode`] policy and returns the `postinst`,
//! `prerm` and `postrm` snippets ([`maintainer_scripts`]); with `--ship-bytecode`,
//! [`compile_bytecode`] compiles the venv's `lib` at the staging path for the final one. It writes
//! only `.pyc` files under the staging root (through Python's compileall).

use std::path::Path;

use anyhow::{Context, Result};

/// How the package handles bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytecode {
    /// Ship none; postinst compiles the venv at its final path (the default).
    CompileOnInstall,
    /// Ship hash-based .pyc files compiled at build time for the final path (`--ship-bytecode`).
    Ship,
}

/// Compiles the venv's `lib` directory for `--ship-bytecode`: checked-hash .pyc files (PEP 552), so
/// neither the build time nor file times reach them, with the staging path replaced by the final one
/// in every code object's file name (`compileall -s/-p`, Python 3.9 and later).
///
/// # Errors
/// When compileall fails (a module with a syntax error, for example); the message ends with its last
/// error line.
pub fn compile_bytecode(
    staging_root: &Path,
    final_root: &Path,
    reporter: &crate::debhelper::Reporter,
) -> Result<()> {
    // -B: the interpreter must not write bytecode of its own while starting (setuptools' .pth imports
    // _distutils_hack), which compileall would then take for up to date; -f recompiles everything.
    let command = crate::command::Command::new(staging_root.join("bin/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-B",
            "-m",
            "compileall",
            "-f",
            "-q",
            "-j0",
            "--invalidation-mode",
            "checked-hash",
            "-s",
        ])
        .arg(staging_root)
        .arg("-p")
        .arg(final_root)
        .arg(staging_root.join("lib"));
    reporter
        .doit(&command)
        .context("compiling the venv's bytecode (--ship-bytecode)")
}

/// The maintainer-script snippets of a venv package: dh-virtualenv's variables, and the bytecode
/// policy.
///
/// - **Variables.** The `postinst` and `prerm` snippets start by setting `dh_venv_install_dir` (the
///   venv's final path) and `dh_venv_package` (the binary package), as dh-virtualenv 1.2.2's did
///   (`autoscripts/postinst-dh-virtualenv`, `prerm-dh-virtualenv`, filled by `bin/dh_virtualenv`).
///   debhelper pastes the snippets in place of `#DEBHELPER#`, so a package's own code after it can use
///   them (`cd "$dh_venv_install_dir/lib"`), as packages written for dh-virtualenv do.
/// - **Bytecode.** By default the package ships no bytecode and `postinst` byte-compiles the venv at
///   its final path (so every `.pyc` names that path, by construction). It runs the venv's Python
///   isolated (`-I`): the admin's `PYTHONPYCACHEPREFIX` would otherwise put the bytecode outside the
///   venv, where removal never looks, and no other `PYTHON*` variable or user site-packages has a say
///   either. A file that does not compile (a module written for another Python version) fails
///   nothing, as with Debian's `py3compile`: the module is read from source when it is imported, and
///   `postinst` says on stderr how many files that is. With [`Bytecode::Ship`] there is nothing to
///   compile. Either way `prerm` removes every `__pycache__` directory, including those Python wrote
///   while the program ran. `postrm` removes the `__pycache__` directories that appeared after
///   `prerm` (a program still running), then the directories that held nothing else, which dpkg could
///   not remove because of them (a package without conffiles is never purged, so dpkg does not try
///   again), and the venv's own directory if it is left empty. It removes no other directory: an
///   empty directory the admin made under the venv stays.
/// - **Triggers.** dh-virtualenv's `postinst` acted on `triggered` for an interpreter
///   (`/usr/bin/python3.X`, a file trigger) and for its named trigger
///   `dh-virtualenv-interpreter-update`, which packages declare interest in with their own
///   `debian/<package>.triggers`. A venv made by `python3 -m venv` links its interpreter to the
///   system's, so an interpreter upgrade needs nothing of it but fresh bytecode: `triggered` compiles
///   the venv again (with [`Bytecode::Ship`], it does nothing) and never fails.
///
/// The snippets are POSIX sh and hold under `set -e`: no command in them can end the script.
///
/// Returns (script, snippet) pairs for [`crate::debhelper::autoscript`].
///
/// # References
/// Debian Python Policy 3.7 ("Byte compilation"), which dh_python3's `py3compile`/`py3clean` implement
/// for Debian's own packages; deb-triggers(5) and deb-postinst(5) for `triggered`; python(1) for `-I`
/// and `-u`; CPython's `Lib/compileall.py`, which prints `*** Error compiling '<file>'...` for each
/// file that fails under `-q`.
pub fn maintainer_scripts(
    package: &str,
    final_root: &Path,
    bytecode: Bytecode,
) -> Vec<(&'static str, String)> {
    use crate::command::shell_quote;
    let venv = shell_quote(&final_root.to_string_lossy());
    // Sorted and always single-quoted, as dh-virtualenv wrote them.
    let quoted = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let variables = format!(
        "dh_venv_install_dir={}\ndh_venv_package={}",
        quoted(&final_root.to_string_lossy()),
        quoted(package)
    );
    let clean = format!(
        "find {venv} -depth -type d -name __pycache__ -exec rm -rf {{}} + 2>/dev/null || true"
    );
    // compileall's workers write to the same pipe: -u makes each message one write, so that messages
    // may run together on a line but are never cut, and grep -o counts every one.
    let postinst = match bytecode {
        Bytecode::CompileOnInstall => format!(
            "{variables}\n\
             if [ \"$1\" = configure ] || [ \"$1\" = triggered ] || [ \"$1\" = abort-upgrade ] || [ \"$1\" = abort-deconfigure ] || [ \"$1\" = abort-remove ]; then\n\
             \tif [ -x {venv}/bin/python ]; then\n\
             \t\tdh_venv_uncompiled=$({venv}/bin/python -I -u -m compileall -q -j0 {venv}/lib 2>&1 | grep -o '\\*\\*\\* Error compiling' | grep -c . || true)\n\
             \t\tif [ \"${{dh_venv_uncompiled:-0}}\" != 0 ]; then\n\
             \t\t\techo \"$dh_venv_package: $dh_venv_uncompiled file(s) under $dh_venv_install_dir/lib could not be byte-compiled; Python reads them from source\" >&2\n\
             \t\tfi\n\
             \tfi\n\
             fi"
        ),
        Bytecode::Ship => variables.clone(),
    };
    vec![
        ("postinst", postinst),
        (
            "prerm",
            format!("{variables}\nif [ -d {venv} ]; then\n\t{clean}\nfi"),
        ),
        (
            "postrm",
            format!(
                "if [ \"$1\" = remove ] || [ \"$1\" = purge ]; then\n\
                 \tif [ -d {venv} ]; then\n\
                 \t\tfind {venv} -type d -name __pycache__ -prune -print 2>/dev/null | while IFS= read -r dh_venv_dir; do\n\
                 \t\t\trm -rf \"$dh_venv_dir\"\n\
                 \t\t\tdh_venv_dir=\"${{dh_venv_dir%/*}}\"\n\
                 \t\t\twhile [ \"$dh_venv_dir\" != {venv} ] && rmdir \"$dh_venv_dir\" 2>/dev/null; do\n\
                 \t\t\t\tdh_venv_dir=\"${{dh_venv_dir%/*}}\"\n\
                 \t\t\tdone\n\
                 \t\tdone || true\n\
                 \t\trmdir {venv} 2>/dev/null || true\n\
                 \tfi\n\
                 fi"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintainer_scripts_set_dh_virtualenvs_variables_and_accept_triggers() {
        let scripts = maintainer_scripts(
            "relay",
            Path::new("/usr/lib/relay's venv"),
            Bytecode::CompileOnInstall,
        );
        let script = |name: &str| &scripts.iter().find(|(s, _)| *s == name).unwrap().1;
        for name in ["postinst", "prerm"] {
            assert!(
                script(name).starts_with(
                    "dh_venv_install_dir='/usr/lib/relay'\\''s venv'\ndh_venv_package='relay'\n"
                ),
                "{}",
                script(name)
            );
        }
        assert!(script("postinst").contains("[ \"$1\" = triggered ]"));
        let shipped = maintainer_scripts("relay", Path::new("/opt/venvs/relay"), Bytecode::Ship);
        assert_eq!(
            shipped[0],
            (
                "postinst",
                "dh_venv_install_dir='/opt/venvs/relay'\ndh_venv_package='relay'".to_owned()
            )
        );
    }

    fn script(scripts: &[(&'static str, String)], name: &str) -> String {
        scripts.iter().find(|(s, _)| *s == name).unwrap().1.clone()
    }

    #[test]
    fn postinst_compiles_isolated_and_counts_what_failed_on_stderr() {
        let scripts = maintainer_scripts(
            "relay",
            Path::new("/opt/venvs/relay"),
            Bytecode::CompileOnInstall,
        );
        let postinst = script(&scripts, "postinst");
        assert!(
            postinst.contains(
                "/opt/venvs/relay/bin/python -I -u -m compileall -q -j0 /opt/venvs/relay/lib 2>&1"
            ),
            "{postinst}"
        );
        assert!(!postinst.contains(">/dev/null"), "{postinst}");
        assert!(postinst.contains(">&2"), "{postinst}");
        let postrm = script(&scripts, "postrm");
        assert!(!postrm.contains("-empty"), "{postrm}");
        assert!(postrm.contains("-name __pycache__"), "{postrm}");
    }

    /// Runs `snippet` with `sh -e`, as dpkg runs a maintainer script, with `argument` and the
    /// environment `env`; returns its stderr, and panics when it fails.
    fn run_script(snippet: &str, argument: &str, env: &[(&str, &Path)]) -> String {
        let mut command = std::process::Command::new("sh");
        command.args(["-e", "-c", snippet, "script", argument]);
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{snippet}\n{stderr}");
        stderr
    }

    /// The files under `dir`, relative to it, sorted.
    fn files_under(dir: &Path) -> Vec<String> {
        let mut files: Vec<String> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn the_scripts_keep_bytecode_in_the_venv_and_leave_the_admins_directories() {
        let dir = tempfile::tempdir().unwrap();
        // A path with a space and a quote, as the shell must take it.
        let venv = dir.path().join("relay's venv");
        let site = venv.join("lib/python3/site-packages");
        std::fs::create_dir_all(site.join("relay")).unwrap();
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", venv.join("bin/python")).unwrap();
        std::fs::write(site.join("relay/__init__.py"), "VALUE = 1\n").unwrap();
        std::fs::write(site.join("relay/py2.py"), "print 'a Python 2 module'\n").unwrap();
        std::fs::write(site.join("relay/also_py2.py"), "exec 'x = 1'\n").unwrap();
        let prefix = dir.path().join("pycache-prefix");
        let scripts = maintainer_scripts("relay", &venv, Bytecode::CompileOnInstall);

        // The admin's settings reach dpkg's maintainer scripts: they must not reach compileall.
        let stderr = run_script(
            &script(&scripts, "postinst"),
            "configure",
            &[
                ("PYTHONPYCACHEPREFIX", &prefix),
                ("PYTHONDONTWRITEBYTECODE", Path::new("1")),
            ],
        );
        assert!(!prefix.exists(), "bytecode went to PYTHONPYCACHEPREFIX");
        let compiled = files_under(&site.join("relay/__pycache__"));
        assert_eq!(compiled.len(), 1, "{compiled:?}");
        assert!(compiled[0].starts_with("__init__.cpython-"), "{compiled:?}");
        assert_eq!(
            stderr.trim(),
            format!(
                "relay: 2 file(s) under {}/lib could not be byte-compiled; Python reads them from source",
                venv.display()
            )
        );

        // After prerm and dpkg's removal of the package's files, a program still running wrote
        // bytecode into a directory of the package; the admin made a directory of their own.
        run_script(&script(&scripts, "prerm"), "remove", &[]);
        assert!(!site.join("relay/__pycache__").exists());
        std::fs::remove_dir_all(venv.join("bin")).unwrap();
        for name in ["__init__.py", "py2.py", "also_py2.py"] {
            std::fs::remove_file(site.join("relay").join(name)).unwrap();
        }
        std::fs::create_dir_all(site.join("relay/__pycache__")).unwrap();
        std::fs::write(site.join("relay/__pycache__/late.cpython-311.pyc"), "x").unwrap();
        std::fs::create_dir_all(venv.join("local/empty")).unwrap();
        run_script(&script(&scripts, "postrm"), "remove", &[]);
        assert!(
            !venv.join("lib").exists(),
            "the package's directories are left"
        );
        assert!(
            venv.join("local/empty").is_dir(),
            "the admin's directory was removed"
        );

        // With nothing of the admin's in it, the venv's directory goes too; a purge after it is fine.
        std::fs::remove_dir_all(venv.join("local")).unwrap();
        std::fs::create_dir_all(site.join("relay/__pycache__")).unwrap();
        run_script(&script(&scripts, "postrm"), "remove", &[]);
        assert!(!venv.exists());
        run_script(&script(&scripts, "postrm"), "purge", &[]);
    }
}
