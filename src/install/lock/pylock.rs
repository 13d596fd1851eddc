//! `pylock.toml`, PEP 751: the packages whose `marker` holds for the target, with the extras and
//! dependency groups asked for as the `extras` and `dependency_groups` sets, and their wheels and
//! sdist.
//!
//! # References
//! PEP 751 and the "pylock.toml Specification" of the PyPA's packaging specifications: `lock-version`
//! 1.x, `environments`, `requires-python`, `extras`, `dependency-groups`, `default-groups`,
//! `[[packages]]` with `marker`, `requires-python`, `wheels`, `sdist`, `directory`, `vcs`, `archive`.

use std::path::Path;

use toml::Table;

use super::toml_access::{
    checked_hex, opt_str, opt_table, parse, req_str, strings, tables, url_file_name,
};
use super::{LockRead, LockedFile, LockedPackage, Target};
use crate::markers::{evaluate_marker, normalize_name};

/// Reads a pylock.toml for `target`; paths in it are relative to `base`, the lock's directory.
///
/// # Errors
/// A message saying what is wrong: not TOML, a `lock-version` other than 1.x, an environment list or
/// `requires-python` the target is not in, an extra or group the lock does not have, a package with
/// no sha256, or one from a VCS or an archive (not installed from a lock by dh_rustvenv).
pub(super) fn read(text: &str, target: &Target, base: &Path) -> Result<LockRead, String> {
    let lock = parse(text)?;
    let version = req_str(&lock, "lock-version", "the lock")?;
    if version.split('.').next() != Some("1") {
        return Err(format!(
            "lock-version {version} is not one dh_rustvenv reads (1.x)"
        ));
    }
    let env = &target.env;
    let python = env.python_full_version.clone().unwrap_or_default();
    if let Some(requires) = opt_str(&lock, "requires-python", "the lock")? {
        if crate::pep440::satisfies_all(&python, requires) == Some(false) {
            return Err(format!(
                "requires-python {requires}: Python {python} is not in it"
            ));
        }
    }
    let environments = strings(&lock, "environments", "the lock")?;
    if !environments.is_empty()
        && environments
            .iter()
            .all(|m| evaluate_marker(m, env, None) == Some(false))
    {
        return Err(format!(
            "the lock is for the environments {}, not Python {python} on {}",
            environments.join(" | "),
            env.platform_machine.as_deref().unwrap_or("this machine")
        ));
    }
    let mut env = env.clone();
    for (key, asked, what) in [
        ("extras", &mut env.extras, "extra"),
        (
            "dependency-groups",
            &mut env.dependency_groups,
            "dependency group",
        ),
    ] {
        let known: Vec<String> = strings(&lock, key, "the lock")?
            .iter()
            .map(|n| normalize_name(n))
            .collect();
        if let Some(missing) = asked.iter().find(|a| !known.contains(&normalize_name(a))) {
            return Err(format!(
                "the lock has no {what} `{missing}` (it has: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    if !target.groups_named {
        env.dependency_groups = strings(&lock, "default-groups", "the lock")?;
    }
    let mut read = LockRead::default();
    for package in tables(&lock, "packages", "the lock")? {
        let name = req_str(package, "name", "a package")?;
        let what = format!("package {name}");
        read.all_names.push(normalize_name(name));
        if let Some(marker) = opt_str(package, "marker", &what)? {
            match evaluate_marker(marker, &env, None) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    return Err(format!(
                        "{what}: its marker `{marker}` cannot be decided for this interpreter"
                    ));
                }
            }
        }
        if let Some(requires) = opt_str(package, "requires-python", &what)? {
            if crate::pep440::satisfies_all(&python, requires) == Some(false) {
                continue;
            }
        }
        if let Some(directory) = opt_table(package, "directory", &what)? {
            let path = req_str(directory, "path", &format!("{what}: directory"))?;
            if base.join(path).canonicalize().ok() == base.canonicalize().ok() {
                // The project itself: installed after the locked set, from the source tree.
                continue;
            }
            return Err(format!(
                "{what} is the directory {path}; dh_rustvenv installs from a lock only wheels and sdists \
                 and the project itself (lock the package from an index)"
            ));
        }
        for kind in ["vcs", "archive"] {
            if package.contains_key(kind) {
                return Err(format!(
                    "{what} comes from a {} ({kind}); dh_rustvenv installs from a lock only wheels and \
                     sdists (lock the package from an index)",
                    if kind == "vcs" {
                        "version control system"
                    } else {
                        "source archive"
                    }
                ));
            }
        }
        let version = req_str(package, "version", &what)?;
        let what = format!("package {name} {version}");
        let mut files = Vec::new();
        for wheel in tables(package, "wheels", &what)? {
            files.push(locked_file(wheel, &what, base)?);
        }
        if let Some(sdist) = opt_table(package, "sdist", &what)? {
            files.push(locked_file(sdist, &what, base)?);
        }
        read.packages.push(LockedPackage {
            name: name.to_owned(),
            version: version.to_owned(),
            files,
        });
    }
    Ok(read)
}

/// One `[[packages.wheels]]` or `[packages.sdist]` entry: its name (or the last part of its URL or
/// path), URL, path and sha256.
fn locked_file(entry: &Table, what: &str, base: &Path) -> Result<LockedFile, String> {
    let url = opt_str(entry, "url", what)?;
    let path = opt_str(entry, "path", what)?;
    let file_name = match (opt_str(entry, "name", what)?, url, path) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(url), _) => url_file_name(url),
        (None, None, Some(path)) => url_file_name(path),
        (None, None, None) => {
            return Err(format!(
                "{what}: a file has neither a name, a url nor a path"
            ));
        }
    };
    let hashes = opt_table(entry, "hashes", what)?
        .ok_or_else(|| format!("{what}: {file_name} has no hashes"))?;
    let sha256 = opt_str(hashes, "sha256", what)?
        .ok_or_else(|| format!("{what}: {file_name} has no sha256 hash"))?;
    Ok(LockedFile {
        sha256: checked_hex(sha256, what)?,
        url: url.map(str::to_owned),
        path: path.map(|p| base.join(p)),
        file_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::MarkerEnvironment;
    use crate::tags::compatible_tags;

    fn target(extras: &[&str], groups: Option<&[&str]>) -> Target {
        let mut env = MarkerEnvironment::cpython((3, 11, 2), "x86_64");
        env.extras = extras.iter().map(|e| e.to_string()).collect();
        env.dependency_groups = groups
            .unwrap_or_default()
            .iter()
            .map(|g| g.to_string())
            .collect();
        Target {
            env,
            tags: compatible_tags(11, "x86_64", Some(36)),
            groups_named: groups.is_some(),
        }
    }

    const LOCK: &str = r#"
lock-version = "1.0"
requires-python = ">=3.9"
extras = ["web"]
dependency-groups = ["dev", "docs"]
default-groups = ["docs"]
created-by = "hand"

[[packages]]
name = "greetlib"
version = "1.0"
wheels = [{ name = "greetlib-1.0-py3-none-any.whl", url = "https://files.example/greetlib-1.0-py3-none-any.whl", hashes = { sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } }]

[[packages]]
name = "oldlib"
version = "2.0"
marker = "python_version < '3.10'"
sdist = { url = "https://files.example/oldlib-2.0.tar.gz", hashes = { sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" } }

[[packages]]
name = "weblib"
version = "3.0"
marker = "'web' in extras"
sdist = { path = "dist/weblib-3.0.tar.gz", hashes = { sha256 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" } }

[[packages]]
name = "testlib"
version = "4.0"
marker = "'dev' in dependency_groups"
sdist = { name = "testlib-4.0.tar.gz", hashes = { sha256 = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" } }

[[packages]]
name = "doclib"
version = "5.0"
marker = "'docs' in dependency_groups"
sdist = { name = "doclib-5.0.tar.gz", hashes = { sha256 = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" } }

[[packages]]
name = "app"
directory = { path = ".", editable = false }
"#;

    fn names(read: &LockRead) -> Vec<&str> {
        read.packages.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn markers_extras_and_groups_select_the_packages() {
        let base = Path::new("/src");
        let read = super::read(LOCK, &target(&[], None), base).unwrap();
        assert_eq!(names(&read), ["greetlib", "doclib"], "default-groups apply");
        assert_eq!(read.packages[0].files[0].sha256, "a".repeat(64));
        let read = super::read(LOCK, &target(&["web"], Some(&["dev"])), base).unwrap();
        assert_eq!(names(&read), ["greetlib", "weblib", "testlib"]);
        assert_eq!(read.packages[1].files[0].file_name, "weblib-3.0.tar.gz");
        assert_eq!(
            read.packages[1].files[0].path.as_deref(),
            Some(Path::new("/src/dist/weblib-3.0.tar.gz"))
        );
        let err = super::read(LOCK, &target(&["nope"], None), base).unwrap_err();
        assert!(err.contains("no extra `nope` (it has: web)"), "{err}");
    }

    #[test]
    fn a_malformed_lock_is_one_clear_error() {
        let base = Path::new("/src");
        let t = target(&[], None);
        let err = |text: &str| super::read(text, &t, base).unwrap_err();
        assert!(err("lock-version = ").starts_with("not valid TOML"));
        assert!(err("x = 1").contains("has no `lock-version`"));
        assert!(err("lock-version = '2.0'").contains("lock-version 2.0"));
        assert!(
            err("lock-version = '1.0'\nrequires-python = '>=3.12'").contains("3.11.2 is not in it")
        );
        assert!(err("lock-version = '1.0'\n[[packages]]\nname = 'a'\nversion = '1'\nsdist = { name = 'a-1.tar.gz' }")
            .contains("has no hashes"));
        assert!(
            err("lock-version = '1.0'\n[[packages]]\nname = 'a'\nvcs = { type = 'git' }")
                .contains("version control")
        );
        assert!(err("lock-version = '1.0'\npackages = 3").contains("not an array"));
        assert!(
            err("lock-version = '1.0'\nenvironments = [\"sys_platform == 'win32'\"]")
                .contains("environments")
        );
    }
}
