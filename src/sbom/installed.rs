//! The distributions installed in a venv: each `*.dist-info` directly in site-packages read (METADATA,
//! WHEEL, RECORD), the native libraries each bundles, the wheelhouse file each was installed from, the
//! dependencies among them, and the interpreter version the venv was made with.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::Digest as _;

use super::metadata::{Metadata, normalize_name, parse_metadata, pypi_purl};
use crate::markers::{MarkerEnvironment, evaluate_marker, extras_named, parse_requirement};
use crate::snapshot::hex;

/// A native library a wheel bundles (auditwheel's `<name>.libs/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeLibrary {
    /// Its path relative to site-packages (`numpy.libs/libgfortran-040039e1.so.5.0.0`).
    pub path: PathBuf,
    /// Its `DT_SONAME`, when it has one.
    pub soname: Option<String>,
    /// The SHA-256 of the file as shipped, in hex.
    pub sha256: String,
}

/// One installed distribution: a `*.dist-info` directly in site-packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// Its METADATA.
    pub metadata: Metadata,
    /// site-packages, relative to the venv root (`lib/python3.11/site-packages`).
    pub site_packages: PathBuf,
    /// The `.dist-info` directory's name.
    pub dist_info: String,
    /// The files its RECORD lists inside the venv, relative to the venv root, sorted.
    pub files: Vec<PathBuf>,
    /// The tags of its WHEEL file (`py3-none-any`), when it has one.
    pub wheel_tags: BTreeSet<String>,
    /// The native libraries it bundles.
    pub native_libraries: Vec<NativeLibrary>,
    /// The wheelhouse file it was installed from, when one could be identified: its file name and
    /// SHA-256 in hex.
    pub artifact: Option<(String, String)>,
}

impl Distribution {
    /// Its purl, also its `bom-ref`.
    pub fn purl(&self) -> String {
        pypi_purl(&self.metadata.name, &self.metadata.version)
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&sha2::Sha256::digest(&bytes)))
}

/// The directories `lib/python3*/site-packages` of the venv at `root` (symlinks such as `lib64` not
/// followed), sorted.
fn site_packages_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let lib = root.join("lib");
    let mut dirs = Vec::new();
    let entries = match fs::read_dir(&lib) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dirs),
        Err(e) => return Err(e).with_context(|| format!("reading {}", lib.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", lib.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let site = entry.path().join("site-packages");
        if name.starts_with("python3")
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && fs::symlink_metadata(&site).is_ok_and(|m| m.is_dir())
        {
            dirs.push(PathBuf::from("lib").join(name).join("site-packages"));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Reads every distribution installed in the venv at `root`: each `*.dist-info` directory directly in
/// `lib/python3*/site-packages`, sorted by directory name. The artifact of each is looked for in
/// `wheelhouse` ([`find_artifact`]).
///
/// # Errors
/// When a dist-info has no readable METADATA, or its RECORD cannot be read or is not RECORD's rows;
/// the message names the file and the distribution.
pub fn installed(root: &Path, wheelhouse: Option<&Path>) -> Result<Vec<Distribution>> {
    let wheelhouse_files = wheelhouse_listing(wheelhouse)?;
    let mut distributions = Vec::new();
    for site_packages in site_packages_dirs(root)? {
        let site = root.join(&site_packages);
        let mut names: Vec<String> = fs::read_dir(&site)
            .with_context(|| format!("reading {}", site.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".dist-info"))
            .collect();
        names.sort();
        for dist_info in names {
            let dir = site.join(&dist_info);
            let metadata_file = dir.join("METADATA");
            let text = fs::read(&metadata_file)
                .with_context(|| format!("reading {} (of {dist_info})", metadata_file.display()))?;
            let metadata = parse_metadata(&String::from_utf8_lossy(&text));
            if metadata.name.is_empty() || metadata.version.is_empty() {
                anyhow::bail!(
                    "{}: no Name or no Version; the distribution {dist_info} is broken: reinstall it",
                    metadata_file.display()
                );
            }
            let record_file = dir.join("RECORD");
            let files: Vec<PathBuf> = match fs::read(&record_file) {
                Ok(text) => crate::record::files(&text, &site)
                    .map_err(|malformed| crate::record::BrokenRecord {
                        record: record_file.clone(),
                        malformed,
                    })
                    .with_context(|| format!("reading the RECORD of {}", metadata.name))?
                    .into_iter()
                    .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", record_file.display()));
                }
            };
            let wheel_tags = crate::tree::read_or_empty(&dir.join("WHEEL"))?
                .lines()
                .filter_map(|l| l.strip_prefix("Tag:"))
                .map(|t| t.trim().to_owned())
                .collect();
            let mut native_libraries = Vec::new();
            for file in &files {
                let Ok(inside) = file.strip_prefix(&site_packages) else {
                    continue;
                };
                let in_libs = inside
                    .components()
                    .next()
                    .is_some_and(|c| c.as_os_str().to_string_lossy().ends_with(".libs"));
                let path = root.join(file);
                if !in_libs || !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                    continue;
                }
                let bytes =
                    fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                if !crate::tree::is_elf(&bytes) {
                    continue;
                }
                native_libraries.push(NativeLibrary {
                    path: inside.to_path_buf(),
                    soname: crate::elf::parse(&bytes, false).ok().and_then(|f| f.soname),
                    sha256: hex(&sha2::Sha256::digest(&bytes)),
                });
            }
            let mut distribution = Distribution {
                metadata,
                site_packages: site_packages.clone(),
                dist_info,
                files,
                wheel_tags,
                native_libraries,
                artifact: None,
            };
            if let Some(file) = find_artifact(&distribution, &wheelhouse_files) {
                let sha256 = sha256_file(file)?;
                let name = file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                distribution.artifact = Some((name, sha256));
            }
            distributions.push(distribution);
        }
    }
    Ok(distributions)
}

/// The regular files directly in `wheelhouse`, sorted.
fn wheelhouse_listing(wheelhouse: Option<&Path>) -> Result<Vec<PathBuf>> {
    let Some(dir) = wheelhouse.filter(|d| d.is_dir()) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// The (normalized name, version, tag set) of a wheel file name
/// (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each tag part possibly a
/// `.`-separated set: the binary distribution format's compressed tag sets).
fn wheel_name_parts(file_name: &str) -> Option<(String, String, BTreeSet<String>)> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() != 5 && parts.len() != 6 {
        return None;
    }
    let n = parts.len();
    let mut tags = BTreeSet::new();
    for python in parts[n - 3].split('.') {
        for abi in parts[n - 2].split('.') {
            for platform in parts[n - 1].split('.') {
                tags.insert(format!("{python}-{abi}-{platform}"));
            }
        }
    }
    Some((normalize_name(parts[0]), parts[1].to_owned(), tags))
}

/// The wheelhouse file `distribution` was installed from: the one wheel of its name and version whose
/// tags are its WHEEL file's tags; else, when no wheel of its name and version is there at all, the
/// one sdist (`{name}-{version}.tar.gz` or `.zip`) pip built it from. None when there is no such
/// file, or more than one: a hash is left out rather than guessed.
///
/// # Known limitations
/// Only the wheelhouse is looked in, not other `--find-links` directories; a distribution installed
/// from the package index has no artifact hash.
pub fn find_artifact<'a>(distribution: &Distribution, files: &'a [PathBuf]) -> Option<&'a Path> {
    let name = normalize_name(&distribution.metadata.name);
    let version = &distribution.metadata.version;
    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let wheels: Vec<(&PathBuf, BTreeSet<String>)> = files
        .iter()
        .filter_map(|p| {
            let (n, v, tags) = wheel_name_parts(&file_name(p)?)?;
            (n == name && &v == version).then_some((p, tags))
        })
        .collect();
    if !wheels.is_empty() {
        let matching: Vec<&PathBuf> = wheels
            .iter()
            .filter(|(_, tags)| {
                !distribution.wheel_tags.is_empty() && *tags == distribution.wheel_tags
            })
            .map(|(p, _)| *p)
            .collect();
        return match matching[..] {
            [one] => Some(one),
            _ => None,
        };
    }
    let sdists: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            file_name(p).is_some_and(|f| {
                let stem = f.strip_suffix(".tar.gz").or_else(|| f.strip_suffix(".zip"));
                stem.and_then(|s| s.rsplit_once('-'))
                    .is_some_and(|(n, v)| normalize_name(n) == name && v == version)
            })
        })
        .collect();
    match sdists[..] {
        [one] => Some(one),
        _ => None,
    }
}

/// The direct dependencies of each distribution among `distributions`, by normalized name: each
/// `Requires-Dist` whose marker holds for the target interpreter (or cannot be decided) and that names
/// an installed distribution. A requirement under an extra counts when that extra is in use: another
/// installed distribution asks for it (`name[extra]`), or every distribution the extra requires is
/// installed (extras asked for on the command line leave no other trace in the venv).
///
/// # Known limitations
/// Markers are evaluated for `python_version`, `python_full_version`, `extra` and the Linux and
/// CPython values of `sys_platform`, `os_name`, `platform_system`, `implementation_name` and
/// `platform_python_implementation`; a requirement with another marker counts when what it names is
/// installed.
pub fn dependencies(
    distributions: &[Distribution],
    env: &MarkerEnvironment,
) -> BTreeMap<String, BTreeSet<String>> {
    let installed: BTreeSet<String> = distributions
        .iter()
        .map(|d| normalize_name(&d.metadata.name))
        .collect();
    let requirements = |d: &Distribution| -> Vec<(String, Vec<String>, Option<String>)> {
        d.metadata
            .requires_dist
            .iter()
            .filter_map(|r| parse_requirement(r))
            .collect()
    };
    // Extras asked for by requirements that hold without one.
    let mut asked: BTreeSet<(String, String)> = BTreeSet::new();
    for d in distributions {
        for (name, extras, marker) in requirements(d) {
            let holds = marker
                .as_deref()
                .is_none_or(|m| evaluate_marker(m, env, None) != Some(false));
            if holds && installed.contains(&name) {
                asked.extend(extras.into_iter().map(|e| (name.clone(), e)));
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in distributions {
        let own = normalize_name(&d.metadata.name);
        let requirements = requirements(d);
        let mut by_extra: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for (name, _, marker) in &requirements {
            let Some(marker) = marker else {
                by_extra.entry(None).or_default().push(name.clone());
                continue;
            };
            if evaluate_marker(marker, env, None) != Some(false) {
                by_extra.entry(None).or_default().push(name.clone());
                continue;
            }
            // Not without an extra: which extras make it hold?
            let named: Vec<String> = extras_named(marker);
            for extra in named {
                if evaluate_marker(marker, env, Some(&extra)) != Some(false) {
                    by_extra.entry(Some(extra)).or_default().push(name.clone());
                }
            }
        }
        let entry = edges.entry(own.clone()).or_default();
        for (extra, names) in by_extra {
            let in_use = match &extra {
                None => true,
                Some(extra) => {
                    asked.contains(&(own.clone(), extra.clone()))
                        || names.iter().all(|n| installed.contains(n))
                }
            };
            if in_use {
                entry.extend(
                    names
                        .into_iter()
                        .filter(|n| installed.contains(n) && *n != own),
                );
            }
        }
    }
    edges
}

/// The interpreter version the venv was made with, from its `pyvenv.cfg` (`version`, or
/// virtualenv's `version_info`), as `3.11.2`.
///
/// # References
/// PEP 405 (`pyvenv.cfg`).
pub fn venv_python_version(root: &Path) -> Result<Option<String>> {
    let text = crate::tree::read_or_empty(&root.join("pyvenv.cfg"))?;
    let mut found = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value: String = value
            .trim()
            .split('.')
            .take(3)
            .take_while(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        match key.trim() {
            "version" if !value.is_empty() => return Ok(Some(value)),
            "version_info" if !value.is_empty() => found = Some(value),
            _ => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn dependencies_are_edges_to_installed_distributions_only() {
        let dist = |name: &str, requires: &[&str]| Distribution {
            metadata: Metadata {
                name: name.into(),
                version: "1".into(),
                requires_dist: requires.iter().map(|r| r.to_string()).collect(),
                ..Metadata::default()
            },
            site_packages: "lib/python3.11/site-packages".into(),
            dist_info: format!("{name}-1.dist-info"),
            files: Vec::new(),
            wheel_tags: BTreeSet::new(),
            native_libraries: Vec::new(),
            artifact: None,
        };
        let distributions = [
            dist(
                "app",
                &[
                    "Requests[socks] >=2",
                    "tomli; python_version < '3.11'",
                    "missing",
                    "typing_extensions; platform_machine == 'x86_64'",
                ],
            ),
            dist(
                "requests",
                &[
                    "urllib3",
                    "PySocks; extra == 'socks'",
                    "chardet; extra == 'old'",
                ],
            ),
            dist("urllib3", &["brotli; extra == 'brotli'"]),
            dist("pysocks", &[]),
            dist("tomli", &[]),
            dist("typing-extensions", &[]),
        ];
        let env = MarkerEnvironment {
            python_full_version: Some("3.11.2".into()),
            ..MarkerEnvironment::default()
        };
        let edges = dependencies(&distributions, &env);
        let of = |n: &str| edges[n].iter().cloned().collect::<Vec<_>>();
        assert_eq!(of("app"), ["requests", "typing-extensions"]);
        assert_eq!(of("requests"), ["pysocks", "urllib3"]);
        assert!(of("urllib3").is_empty());
    }

    #[test]
    fn wheels_are_matched_by_name_version_and_tags() {
        let mut d = Distribution {
            metadata: Metadata {
                name: "Greet.Lib".into(),
                version: "1.0".into(),
                ..Metadata::default()
            },
            site_packages: "lib/python3.11/site-packages".into(),
            dist_info: "greet_lib-1.0.dist-info".into(),
            files: Vec::new(),
            wheel_tags: [
                "cp311-cp311-manylinux_2_17_x86_64".to_owned(),
                "cp311-cp311-manylinux2014_x86_64".to_owned(),
            ]
            .into(),
            native_libraries: Vec::new(),
            artifact: None,
        };
        let files: Vec<PathBuf> = [
            "/w/greet_lib-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "/w/greet_lib-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "/w/greet_lib-1.1-py3-none-any.whl",
            "/w/greet-lib-1.0.tar.gz",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(find_artifact(&d, &files), Some(files[0].as_path()));
        // A wheel of that name and version with other tags: built from the sdist? Not known.
        d.wheel_tags = ["py3-none-any".to_owned()].into();
        assert_eq!(find_artifact(&d, &files), None);
        // No wheel of that version at all: the one sdist.
        d.metadata.version = "1.0".into();
        assert_eq!(find_artifact(&d, &files[2..]), Some(files[3].as_path()));
        assert_eq!(find_artifact(&d, &[]), None);
    }

    /// A venv with one distribution that bundles a native library (an ELF file: the test binary), and
    /// a wheelhouse with its wheel.
    pub(in crate::sbom) fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
        let root = dir.join("staging/opt/venvs/demo");
        let site = root.join("lib/python3.11/site-packages");
        let info = site.join("greetlib-1.0.dist-info");
        fs::create_dir_all(info.join("licenses")).unwrap();
        fs::create_dir_all(site.join("greetlib")).unwrap();
        fs::create_dir_all(site.join("greetlib.libs")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(
            root.join("pyvenv.cfg"),
            "home = /usr/bin\nversion = 3.11.2\n",
        )
        .unwrap();
        fs::write(
            info.join("METADATA"),
            "Metadata-Version: 2.4\nName: greetlib\nVersion: 1.0\nLicense-Expression: MIT\n\
             License-File: LICENSE\nRequires-Dist: colorama\n",
        )
        .unwrap();
        fs::write(
            info.join("WHEEL"),
            "Wheel-Version: 1.0\nTag: py3-none-any\n",
        )
        .unwrap();
        fs::write(info.join("licenses/LICENSE"), "MIT\n").unwrap();
        fs::write(site.join("greetlib/__init__.py"), "").unwrap();
        fs::write(root.join("bin/greet"), "#!/opt/venvs/demo/bin/python\n").unwrap();
        let elf = fs::read(std::env::current_exe().unwrap()).unwrap();
        fs::write(site.join("greetlib.libs/libgreet-1a2b.so.1"), &elf).unwrap();
        fs::write(
            info.join("RECORD"),
            "greetlib/__init__.py,,\ngreetlib/__pycache__/__init__.cpython-311.pyc,,\n\
             greetlib.libs/libgreet-1a2b.so.1,,\n../../../bin/greet,,\n\
             greetlib-1.0.dist-info/METADATA,,\ngreetlib-1.0.dist-info/licenses/LICENSE,,\n\
             greetlib-1.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        let wheelhouse = dir.join("wheelhouse");
        fs::create_dir_all(&wheelhouse).unwrap();
        fs::write(wheelhouse.join("greetlib-1.0-py3-none-any.whl"), "wheel").unwrap();
        (root, wheelhouse)
    }

    #[test]
    fn a_broken_dist_info_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (root, _) = fixture(dir.path());
        let info = root.join("lib/python3.11/site-packages/greetlib-1.0.dist-info");
        fs::write(info.join("RECORD"), "\"unclosed,,\n").unwrap();
        let error = format!("{:#}", installed(&root, None).unwrap_err());
        assert!(error.contains("RECORD of greetlib"), "{error}");
        assert!(error.contains("greetlib-1.0.dist-info/RECORD"), "{error}");
        fs::remove_file(info.join("METADATA")).unwrap();
        let error = format!("{:#}", installed(&root, None).unwrap_err());
        assert!(error.contains("greetlib-1.0.dist-info/METADATA"), "{error}");
    }
}
