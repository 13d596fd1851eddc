//! `uv.lock`: the packages reached from the project's own entry through `dependencies`,
//! `optional-dependencies` (the extras asked for, and the extras each dependency names) and
//! `dev-dependencies` (the groups asked for), each edge taken when its `marker` holds for the target.
//!
//! # References
//! uv's documentation of the lock file ("Locking and syncing", "The lockfile") and the files uv writes:
//! `version = 1`, `[[package]]` with `name`, `version`, `source` (`registry`, `url`, `path`, `git`,
//! `editable`, `virtual`, `directory`), `dependencies` (`name`, `version`, `source`, `marker`,
//! `extra`), `[package.optional-dependencies]`, `[package.dev-dependencies]`, `sdist` and `wheels`
//! (`url` or `path`/`filename`, `hash = "sha256:…"`), `[package.metadata] requires-dist`.

use std::collections::BTreeSet;
use std::path::Path;

use toml::{Table, Value};

use super::toml_access::{opt_str, opt_table, parse, req_str, sha256_of, tables, url_file_name};
use super::{LockRead, LockedFile, LockedPackage, Target};
use crate::markers::{evaluate_marker, normalize_name};

/// Reads a uv.lock for `target`: paths in it are relative to `base`; `pyproject` is the project's,
/// for finding its entry by name and for the staleness check.
///
/// # Errors
/// A message saying what is wrong: not TOML, a `version` other than 1, no entry for the project, a
/// dependency naming a package the lock does not hold, an extra or group the project does not have,
/// a package from git or a directory, or a file with no sha256.
pub(super) fn read(
    text: &str,
    target: &Target,
    base: &Path,
    pyproject: Option<&Table>,
) -> Result<LockRead, String> {
    let lock = parse(text)?;
    match lock.get("version").and_then(Value::as_integer) {
        Some(1) => {}
        Some(v) => {
            return Err(format!(
                "version {v} is not a uv.lock version dh_rustvenv reads (1)"
            ));
        }
        None => return Err("the lock has no integer `version`".to_owned()),
    }
    let packages = tables(&lock, "package", "the lock")?;
    let project_name = pyproject
        .and_then(|p| p.get("project"))
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(normalize_name);
    let root = packages
        .iter()
        .position(|p| source_is_project(p))
        .or_else(|| {
            let name = project_name.as_ref()?;
            packages.iter().position(|p| {
                p.get("name")
                    .and_then(Value::as_str)
                    .map(normalize_name)
                    .as_ref()
                    == Some(name)
            })
        })
        .ok_or("no package entry for the project (source = { editable = \".\" } or its name)")?;
    let env = &target.env;
    let mut read = LockRead::default();
    for p in &packages {
        read.all_names
            .push(normalize_name(req_str(p, "name", "a package")?));
    }
    // (package index, extra or None): what has been taken.
    let mut seen: BTreeSet<(usize, Option<String>)> = BTreeSet::new();
    let mut queue: Vec<(usize, Option<String>)> = vec![(root, None)];
    let root_what = format!("package {}", read.all_names[root]);
    let optional = opt_table(packages[root], "optional-dependencies", &root_what)?;
    for extra in &env.extras {
        let found = optional
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| normalize_name(k) == normalize_name(extra))
            })
            .map(|(k, _)| k.clone());
        let Some(key) = found else {
            return Err(format!("the project has no extra `{extra}` in the lock"));
        };
        queue.push((root, Some(key)));
    }
    let mut edges: Vec<&Table> = Vec::new();
    let dev = opt_table(packages[root], "dev-dependencies", &root_what)?;
    for group in &env.dependency_groups {
        let found = dev.and_then(|d| {
            d.iter()
                .find(|(k, _)| normalize_name(k) == normalize_name(group))
        });
        let Some((key, _)) = found else {
            return Err(format!(
                "the project has no dependency group `{group}` in the lock"
            ));
        };
        edges.extend(tables(dev.expect("found in it"), key, &root_what)?);
    }
    let mut wanted: Vec<(usize, Option<String>)> = Vec::new();
    for edge in edges {
        wanted.extend(follow(edge, &packages, env, &root_what)?);
    }
    queue.extend(wanted);
    while let Some((index, extra)) = queue.pop() {
        if !seen.insert((index, extra.clone())) {
            continue;
        }
        let package = packages[index];
        let what = format!("package {}", read.all_names[index]);
        let deps = match &extra {
            None => tables(package, "dependencies", &what)?,
            Some(extra) => match opt_table(package, "optional-dependencies", &what)? {
                Some(optional) => tables(optional, extra, &what)?,
                None => Vec::new(),
            },
        };
        for edge in deps {
            queue.extend(follow(edge, &packages, env, &what)?);
        }
    }
    let chosen: BTreeSet<usize> = seen
        .iter()
        .map(|(i, _)| *i)
        .filter(|&i| i != root)
        .collect();
    for index in chosen {
        let package = packages[index];
        if source_is_project(package) || source_kind(package) == Some("virtual") {
            continue;
        }
        read.packages.push(locked_package(package, base)?);
    }
    if let (Some(pyproject), Some(metadata)) = (
        pyproject,
        opt_table(packages[root], "metadata", &root_what)?,
    ) {
        read.warnings
            .extend(requires_dist_warning(pyproject, metadata));
    }
    Ok(read)
}

/// The kind of a package's `source` table (`registry`, `editable`, …).
fn source_kind(package: &Table) -> Option<&str> {
    let source = package.get("source")?.as_table()?;
    source.keys().next().map(String::as_str)
}

/// Whether a package is the project itself: its source is the lock's own directory.
fn source_is_project(package: &Table) -> bool {
    let Some(source) = package.get("source").and_then(Value::as_table) else {
        return false;
    };
    ["editable", "virtual", "directory"]
        .iter()
        .any(|k| source.get(*k).and_then(Value::as_str) == Some("."))
}

/// The packages (with the extra taken, if any) one dependency entry leads to, when its marker holds.
fn follow(
    edge: &Table,
    packages: &[&Table],
    env: &crate::markers::MarkerEnvironment,
    what: &str,
) -> Result<Vec<(usize, Option<String>)>, String> {
    let name = normalize_name(req_str(edge, "name", what)?);
    if let Some(marker) = opt_str(edge, "marker", what)? {
        if evaluate_marker(marker, env, None) == Some(false) {
            return Ok(Vec::new());
        }
    }
    let version = opt_str(edge, "version", what)?;
    let index = packages
        .iter()
        .position(|p| {
            p.get("name")
                .and_then(Value::as_str)
                .map(normalize_name)
                .as_deref()
                == Some(name.as_str())
                && version.is_none_or(|v| p.get("version").and_then(Value::as_str) == Some(v))
        })
        .ok_or_else(|| format!("{what} depends on {name}, which the lock does not hold"))?;
    let mut next = vec![(index, None)];
    if let Some(extras) = edge.get("extra").and_then(Value::as_array) {
        next.extend(
            extras
                .iter()
                .filter_map(Value::as_str)
                .map(|e| (index, Some(e.to_owned()))),
        );
    }
    Ok(next)
}

/// One `[[package]]` entry's name, version and files.
fn locked_package(package: &Table, base: &Path) -> Result<LockedPackage, String> {
    let name = req_str(package, "name", "a package")?;
    let what = format!("package {name}");
    let kind = source_kind(package);
    if matches!(kind, Some("git" | "editable" | "directory" | "virtual")) {
        return Err(format!(
            "{what} comes from a {} source; dh_rustvenv installs from a lock only wheels and sdists \
             and the project itself",
            kind.unwrap_or_default()
        ));
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
    Ok(LockedPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        files,
    })
}

/// A `wheels` or `sdist` entry: `url` or `path` (with `filename`), and `hash`.
fn locked_file(entry: &Table, what: &str, base: &Path) -> Result<LockedFile, String> {
    let url = opt_str(entry, "url", what)?;
    let path = opt_str(entry, "path", what)?;
    let file_name = match (opt_str(entry, "filename", what)?, url, path) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(url), _) => url_file_name(url),
        (None, None, Some(path)) => url_file_name(path),
        (None, None, None) => return Err(format!("{what}: a file has neither a url nor a path")),
    };
    let hash =
        opt_str(entry, "hash", what)?.ok_or_else(|| format!("{what}: {file_name} has no hash"))?;
    Ok(LockedFile {
        sha256: sha256_of(hash, &format!("{what}: {file_name}"))?,
        url: url.map(str::to_owned),
        path: path.map(|p| base.join(p)),
        file_name,
    })
}

/// A warning when the project's `[package.metadata] requires-dist` in the lock names other packages
/// than `pyproject.toml`'s `dependencies` and `optional-dependencies`: the lock predates a change.
fn requires_dist_warning(pyproject: &Table, metadata: &Table) -> Option<String> {
    let project = pyproject.get("project")?.as_table()?;
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut add = |list: Option<&Value>| {
        for item in list.and_then(Value::as_array).into_iter().flatten() {
            if let Some((name, _, _)) = item.as_str().and_then(crate::markers::parse_requirement) {
                declared.insert(name);
            }
        }
    };
    add(project.get("dependencies"));
    if let Some(optional) = project
        .get("optional-dependencies")
        .and_then(Value::as_table)
    {
        for list in optional.values() {
            add(Some(list));
        }
    }
    let locked: BTreeSet<String> = metadata
        .get("requires-dist")?
        .as_array()?
        .iter()
        .filter_map(|d| d.get("name")?.as_str().map(normalize_name))
        .collect();
    if locked == declared {
        return None;
    }
    let added: Vec<&String> = declared.difference(&locked).collect();
    let removed: Vec<&String> = locked.difference(&declared).collect();
    Some(format!(
        "the lock's requirements of the project differ from pyproject.toml's (not locked: {}; no longer \
         required: {}): the lock is older than pyproject.toml; run uv lock",
        if added.is_empty() {
            "none".to_owned()
        } else {
            added
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        if removed.is_empty() {
            "none".to_owned()
        } else {
            removed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
    ))
}

#[cfg(test)]
mod tests;
