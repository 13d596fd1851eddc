//! `poetry.lock`, lock-version 2.1 (Poetry 2): each package records the groups it belongs to and,
//! per group or for all, the marker under which it is needed, extras included (`extra == "web"`);
//! the packages of the `main` group and of the groups asked for, whose marker holds, are installed.
//!
//! # References
//! Poetry's lock file as Poetry 2 writes it (`[metadata] lock-version = "2.1"`): `[[package]]` with
//! `name`, `version`, `optional`, `groups`, `markers` (a string, or a table by group), `files`
//! (`file`, `hash = "sha256:…"`); the top-level `[extras]` table (extra -> package names).

use toml::{Table, Value};

use super::toml_access::{opt_str, opt_table, parse, req_str, sha256_of, strings, tables};
use super::{LockRead, LockedFile, LockedPackage, Target};
use crate::markers::{MarkerEnvironment, holds_with_any_extra, normalize_name};

/// Reads a poetry.lock for `target`: the `main` group and the groups asked for, the extras asked for.
///
/// # Errors
/// A message saying what is wrong: not TOML, a lock-version other than 2.1 (older ones record no
/// groups or markers), a group or extra the lock does not have, a package without files or hashes.
pub(super) fn read(text: &str, target: &Target) -> Result<LockRead, String> {
    let lock = parse(text)?;
    let metadata = opt_table(&lock, "metadata", "the lock")?.ok_or("the lock has no [metadata]")?;
    let version = req_str(metadata, "lock-version", "[metadata]")?;
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    if major != "2" || minor.parse::<u32>().map_or(true, |m| m < 1) {
        return Err(format!(
            "lock-version {version}: dh_rustvenv reads lock-version 2.1 and later 2.x, which record each \
             package's groups and markers; lock again with Poetry 2"
        ));
    }
    let env = &target.env;
    let extras_table = opt_table(&lock, "extras", "the lock")?;
    for extra in &env.extras {
        let known = extras_table
            .is_some_and(|t| t.keys().any(|k| normalize_name(k) == normalize_name(extra)));
        if !known {
            return Err(format!(
                "the lock has no extra `{extra}` (its [extras] table)"
            ));
        }
    }
    let packages = tables(&lock, "package", "the lock")?;
    let mut groups: Vec<String> = vec!["main".to_owned()];
    groups.extend(env.dependency_groups.iter().map(|g| normalize_name(g)));
    let mut all_groups: Vec<String> = Vec::new();
    let mut read = LockRead::default();
    for package in &packages {
        let name = req_str(package, "name", "a package")?;
        let what = format!("package {name}");
        read.all_names.push(normalize_name(name));
        let package_groups = strings(package, "groups", &what)?;
        all_groups.extend(package_groups.iter().map(|g| normalize_name(g)));
        if wanted(package, &package_groups, &groups, env, extras_table, &what)? {
            read.packages.push(locked_package(package, name)?);
        }
    }
    if let Some(missing) = groups
        .iter()
        .find(|g| *g != "main" && !all_groups.contains(g))
    {
        return Err(format!(
            "no package of the lock is in the group `{missing}`"
        ));
    }
    Ok(read)
}

/// Whether `package` is installed: in one of `groups`, its marker for that group holding with the
/// extras asked for; an optional package whose marker names no extra is installed when an extra asked
/// for lists it in `[extras]`.
fn wanted(
    package: &Table,
    package_groups: &[String],
    groups: &[String],
    env: &MarkerEnvironment,
    extras_table: Option<&Table>,
    what: &str,
) -> Result<bool, String> {
    let optional = package
        .get("optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let name = normalize_name(req_str(package, "name", what)?);
    let listed_by_extra = env.extras.iter().any(|extra| {
        extras_table
            .and_then(|t| {
                t.iter()
                    .find(|(k, _)| normalize_name(k) == normalize_name(extra))
            })
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|names| {
                names.iter().filter_map(Value::as_str).any(|n| {
                    // `[extras]` entries may carry a version constraint: `"pysocks (>=1.5)"`.
                    normalize_name(
                        n.split([' ', '(', '<', '>', '=', '!', '~'])
                            .next()
                            .unwrap_or(n),
                    ) == name
                })
            })
    });
    for group in package_groups {
        if !groups.contains(&normalize_name(group)) {
            continue;
        }
        let marker = match package.get("markers") {
            None => None,
            Some(Value::String(m)) => Some(m.as_str()),
            Some(Value::Table(by_group)) => opt_str(by_group, group, what)?,
            Some(_) => return Err(format!("{what}: `markers` is neither a string nor a table")),
        };
        let holds = match marker {
            Some(m) if optional && !m.contains("extra") => {
                listed_by_extra && holds_with_any_extra(m, env, &env.extras)
            }
            Some(m) => holds_with_any_extra(m, env, &env.extras),
            None => !optional || listed_by_extra,
        };
        if holds {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A `[[package]]` entry's version and `files`.
fn locked_package(package: &Table, name: &str) -> Result<LockedPackage, String> {
    let what = format!("package {name}");
    if let Some(source) = opt_table(package, "source", &what)? {
        let kind = opt_str(source, "type", &what)?.unwrap_or_default();
        if kind != "legacy" {
            return Err(format!(
                "{what} comes from a {kind} source; dh_rustvenv installs from a lock only wheels and \
                 sdists of an index"
            ));
        }
    }
    let version = req_str(package, "version", &what)?;
    let what = format!("package {name} {version}");
    let mut files = Vec::new();
    for file in tables(package, "files", &what)? {
        let file_name = req_str(file, "file", &what)?;
        let hash = req_str(file, "hash", &format!("{what}: {file_name}"))?;
        files.push(LockedFile {
            file_name: file_name.to_owned(),
            url: None,
            path: None,
            sha256: sha256_of(hash, &format!("{what}: {file_name}"))?,
        });
    }
    Ok(LockedPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::compatible_tags;

    fn target(extras: &[&str], groups: &[&str]) -> Target {
        let mut env = MarkerEnvironment::cpython((3, 11, 2), "x86_64");
        env.extras = extras.iter().map(|e| e.to_string()).collect();
        env.dependency_groups = groups.iter().map(|g| g.to_string()).collect();
        Target {
            env,
            tags: compatible_tags(11, "x86_64", Some(36)),
            groups_named: !groups.is_empty(),
        }
    }

    fn lock() -> String {
        let h = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        format!(
            r#"# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.

[[package]]
name = "greetlib"
version = "1.0"
description = ""
optional = false
python-versions = ">=3.9"
groups = ["main", "dev"]
files = [
    {{file = "greetlib-1.0-py3-none-any.whl", hash = "{a}"}},
    {{file = "greetlib-1.0.tar.gz", hash = "{b}"}},
]

[[package]]
name = "oldlib"
version = "2.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
markers = "python_version < \"3.10\""
files = [{{file = "oldlib-2.0.tar.gz", hash = "{a}"}}]

[[package]]
name = "weblib"
version = "3.0"
description = ""
optional = true
python-versions = "*"
groups = ["main"]
markers = "extra == \"web\""
files = [{{file = "weblib-3.0.tar.gz", hash = "{a}"}}]

[[package]]
name = "testlib"
version = "4.0"
description = ""
optional = false
python-versions = "*"
groups = ["dev"]
markers = {{dev = "sys_platform == \"linux\""}}
files = [{{file = "testlib-4.0-py3-none-any.whl", hash = "{c}"}}]

[extras]
web = ["weblib"]

[metadata]
lock-version = "2.1"
python-versions = ">=3.9"
content-hash = "0000"
"#,
            a = h('a'),
            b = h('b'),
            c = h('c'),
        )
    }

    fn names(read: &LockRead) -> Vec<&str> {
        read.packages.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn main_and_the_groups_asked_for_with_their_markers_and_extras() {
        let read = super::read(&lock(), &target(&[], &[])).unwrap();
        assert_eq!(names(&read), ["greetlib"]);
        assert_eq!(read.packages[0].files.len(), 2);
        let read = super::read(&lock(), &target(&["web"], &["dev"])).unwrap();
        assert_eq!(names(&read), ["greetlib", "weblib", "testlib"]);
        assert!(
            super::read(&lock(), &target(&["nope"], &[]))
                .unwrap_err()
                .contains("no extra `nope`")
        );
        assert!(
            super::read(&lock(), &target(&[], &["docs"]))
                .unwrap_err()
                .contains("group `docs`")
        );
    }

    #[test]
    fn old_or_broken_locks_are_errors() {
        let old = lock().replace("lock-version = \"2.1\"", "lock-version = \"2.0\"");
        assert!(
            super::read(&old, &target(&[], &[]))
                .unwrap_err()
                .contains("lock again with Poetry 2")
        );
        let bad = lock().replace("hash = \"sha256:", "hash = \"md5:");
        assert!(
            super::read(&bad, &target(&[], &[]))
                .unwrap_err()
                .contains("not a sha256")
        );
        assert!(
            super::read("[metadata]", &target(&[], &[]))
                .unwrap_err()
                .contains("lock-version")
        );
    }
}
