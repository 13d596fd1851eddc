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
///   its final path (so every `.pyc` names that path, by construction); with [`Bytecode::Ship`] there
///   is nothing to compile. Either way `prerm` removes every `__pycache__` directory, including those
///   Python wrote while the program ran, and `postrm` sweeps what appeared after `prerm` and the
///   directories dpkg could not remove because of it, so that removal leaves nothing behind.
/// - **Triggers.** dh-virtualenv's `postinst` acted on `triggered` for an interpreter
///   (`/usr/bin/python3.X`, a file trigger) and for its named trigger
///   `dh-virtualenv-interpreter-update`, which packages declare interest in with their own
///   `debian/<package>.triggers`. A venv made by `python3 -m venv` links its interpreter to the
///   system's, so an interpreter upgrade needs nothing of it but fresh bytecode: `triggered` compiles
///   the venv again (with [`Bytecode::Ship`], it does nothing) and never fails.
///
/// Returns (script, snippet) pairs for [`crate::debhelper::autoscript`].
///
/// # References
/// Debian Python Policy 3.7 ("Byte compilation"), which dh_python3's `py3compile`/`py3clean` implement
/// for Debian's own packages; deb-triggers(5) and deb-postinst(5) for `triggered`.
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
    let postinst = match bytecode {
        Bytecode::CompileOnInstall => format!(
            "{variables}\n\
             if [ \"$1\" = configure ] || [ \"$1\" = triggered ] || [ \"$1\" = abort-upgrade ] || [ \"$1\" = abort-deconfigure ] || [ \"$1\" = abort-remove ]; then\n\
             \tif [ -x {venv}/bin/python ]; then\n\
             \t\t{venv}/bin/python -m compileall -q -j0 {venv}/lib >/dev/null 2>&1 || true\n\
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
                 \t\t{clean}\n\
                 \t\tfind {venv} -depth -type d -empty -delete 2>/dev/null || true\n\
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
}
