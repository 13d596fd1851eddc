//! `${rustvenv:Depends}`: what the installed venv needs from the system.
//!
//! Takes the [`Interpreter`] the venv was built with and returns the Debian package that provides it,
//! found with `dpkg -S`. A venv only runs with the Python minor version it was built for (its
//! site-packages is `lib/python3.X`, its extension modules carry that version's ABI tag), so the
//! dependency names the versioned interpreter package, `python3.X`, as dh_python3 does for private
//! directories. [`write_substvars`] adds the result to `debian/<package>.substvars` with debhelper's
//! merge semantics; it is the only thing this stage writes.

use anyhow::Result;

use crate::debhelper::{self, Command, Reporter};
use crate::interpreter::Interpreter;

/// The substvar dh_rustvenv fills, used in debian/control as `Depends: ${rustvenv:Depends}`.
pub const SUBSTVAR: &str = "rustvenv:Depends";

/// The package that provides `interpreter`, as a dependency: `python3.11` for Debian's
/// `/usr/bin/python3.11`. None when no Debian package ships the interpreter (a locally built Python):
/// then nothing can be declared, and the caller warns.
///
/// # Errors
/// When `dpkg-query` cannot be started.
pub fn interpreter_dependency(interpreter: &Interpreter) -> Result<Option<String>> {
    let search = Command::new("dpkg-query")
        .arg("-S")
        .arg(&interpreter.path)
        .query();
    match search {
        Ok(output) => Ok(package_from_search(&output, &interpreter.major_minor())),
        Err(e) if e.to_string().starts_with("could not start") => Err(e),
        Err(_) => Ok(None),
    }
}

/// Reads `dpkg-query -S` output (`package[:arch][, package…]: /path`) and maps Debian's
/// `pythonX.Y-minimal`, which ships only the executable and a few modules, to the full `pythonX.Y`.
fn package_from_search(output: &str, major_minor: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains(": "))?;
    let (packages, _) = line.split_once(": ")?;
    let first = packages.split(", ").next()?.trim();
    let name = first.split(':').next()?.to_owned();
    if name == format!("python{major_minor}-minimal") {
        return Some(format!("python{major_minor}"));
    }
    (!name.is_empty()).then_some(name)
}

/// Adds the interpreter's package to `${rustvenv:Depends}` in `debian/<package>.substvars`, or warns
/// when there is none.
///
/// # Errors
/// When `dpkg-query` cannot be started or the substvars file cannot be written.
pub fn write_substvars(
    package: &str,
    interpreter: &Interpreter,
    reporter: &Reporter,
) -> Result<Option<String>> {
    let dependency = interpreter_dependency(interpreter)?;
    match &dependency {
        Some(dependency) => {
            reporter.verbose_print(format!("echo '{SUBSTVAR}={dependency}' >> debian/{package}.substvars"));
            if !reporter.no_act {
                debhelper::add_substvar(package, SUBSTVAR, dependency)?;
            }
        }
        None => reporter.warning(format!(
            "package {package}: no Debian package ships {}, so ${{{SUBSTVAR}}} cannot name the interpreter \
             the venv needs; use --python with Debian's python3.X",
            interpreter.path.display()
        )),
    }
    Ok(dependency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_maps_to_the_full_interpreter_package() {
        let out = "python3.11-minimal: /usr/bin/python3.11\n";
        assert_eq!(
            package_from_search(out, "3.11").as_deref(),
            Some("python3.11")
        );
    }

    #[test]
    fn other_packages_and_arch_qualifiers() {
        assert_eq!(
            package_from_search("python3.12-nopie:amd64, x: /usr/bin/python3.12\n", "3.12")
                .as_deref(),
            Some("python3.12-nopie")
        );
        assert_eq!(package_from_search("", "3.11"), None);
    }
}
