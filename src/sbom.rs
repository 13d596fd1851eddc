//! What the venv holds, as shipped: a CycloneDX 1.6 SBOM of it, and a license summary in DEP-5 form.
//!
//! Takes the venv in the staging root after every other stage changed it (so that the hashes are those
//! of the files shipped), the final root, and the dependencies the run put into the substvars.
//! [`installed`] reads each `*.dist-info` directly in `lib/python3.X/site-packages` (METADATA, WHEEL,
//! RECORD); [`document`] turns them into the SBOM's JSON and [`copyright_fragment`] into DEP-5
//! stanzas. Nothing here writes a file or names the staging root in what it returns: every path in
//! the output is a path of the installed system (under the final root). The pipeline writes the SBOM
//! into the venv at [`sbom_path`] and the fragment into the package's work directory.
//!
//! # References
//! - CycloneDX 1.6 JSON: <https://cyclonedx.org/docs/1.6/json/>
//! - Core metadata, PEP 639 (`License-Expression`, `License-File`), PEP 621, PEP 508 (markers):
//!   <https://packaging.python.org/en/latest/specifications/core-metadata/>
//! - PEP 503 (name normalization); the purl specification's `pypi` and `deb` types:
//!   <https://github.com/package-url/purl-spec>
//! - DEP-5 (machine-readable debian/copyright): <https://dep-team.pages.debian.net/deps/dep5/>

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sha2::Digest as _;

/// The name of the SBOM inside the venv: `<venv name>.cdx.json`, where the venv name is the final
/// root's last component (`demo` for `/opt/venvs/demo`). The `.cdx.json` suffix is what scanners look
/// for (trivy's SBOM analyzer, syft's and grype's `sbom-cataloger`).
pub fn sbom_file_name(final_root: &Path) -> String {
    let name = final_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "venv".to_owned());
    format!("{name}.cdx.json")
}

/// Where the SBOM goes in the staging tree: [`sbom_file_name`] at the top of the venv.
pub fn sbom_path(staging_root: &Path, final_root: &Path) -> PathBuf {
    staging_root.join(sbom_file_name(final_root))
}

/// The fields of a distribution's METADATA that the SBOM uses (core metadata; header fields only,
/// the body is the description).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `Name`, as written.
    pub name: String,
    /// `Version`, as written.
    pub version: String,
    /// `License-Expression` (PEP 639): an SPDX license expression.
    pub license_expression: Option<String>,
    /// `License` (core metadata before PEP 639): free text, possibly the whole license.
    pub license: Option<String>,
    /// `Classifier`s, in their order.
    pub classifiers: Vec<String>,
    /// `Requires-Dist` (PEP 508 requirements), in their order.
    pub requires_dist: Vec<String>,
    /// `License-File` (PEP 639: relative to `.dist-info/licenses/`; older tools: to `.dist-info/`).
    pub license_files: Vec<String>,
}

/// Reads the header of a METADATA file (an email-style header: `Key: value` lines, continuation
/// lines starting with white space, ended by an empty line). Keys are matched without regard to case;
/// unknown keys are ignored. Never fails: a line that is not a header line ends the header.
///
/// # References
/// Core metadata specification, "Metadata-Version 2.1" onwards (RFC 822 format).
pub fn parse_metadata(text: &str) -> Metadata {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) => {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().into()))
            }
            None => break,
        }
    }
    let mut metadata = Metadata::default();
    for (key, value) in fields {
        match key.as_str() {
            "name" => metadata.name = value,
            "version" => metadata.version = value,
            "license-expression" if !value.is_empty() => metadata.license_expression = Some(value),
            "license" if !value.trim().is_empty() && value.trim() != "UNKNOWN" => {
                metadata.license = Some(value)
            }
            "classifier" => metadata.classifiers.push(value),
            "requires-dist" => metadata.requires_dist.push(value),
            "license-file" if !value.is_empty() => metadata.license_files.push(value),
            _ => {}
        }
    }
    metadata
}

/// A distribution name normalized as PEP 503 says: lowercase, each run of `-`, `_` and `.` one `-`.
/// The purl `pypi` type asks for the same (lowercase, `_` as `-`).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// `text` percent-encoded for a purl component: everything but ASCII letters, digits and `.-_~` is
/// encoded (`+` of a local version becomes `%2B`), as the purl specification asks.
fn purl_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The purl of a PyPI distribution: `pkg:pypi/<PEP 503 name>@<version>`.
pub fn pypi_purl(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{}",
        purl_encode(&normalize_name(name)),
        purl_encode(version)
    )
}

/// The purl of a Debian package, without a version (a relation's `>=` is no exact version):
/// `pkg:deb/debian/<name>`.
pub fn deb_purl(name: &str) -> String {
    format!("pkg:deb/debian/{}", purl_encode(name))
}

/// A distribution's license, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// An SPDX license expression: PEP 639's `License-Expression`, or the one SPDX identifier the
    /// `License ::` classifiers map to.
    Expression(String, LicenseSource),
    /// The `License` field's first line, as a license name.
    Name(String),
}

/// Where an SPDX expression was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseSource {
    /// PEP 639's `License-Expression`.
    LicenseExpression,
    /// The `License ::` trove classifiers.
    Classifiers,
}

impl License {
    /// The expression or name.
    pub fn text(&self) -> &str {
        match self {
            License::Expression(text, _) | License::Name(text) => text,
        }
    }

    /// Where it was read, as the SBOM's `dh-rustvenv:license-source` property says it.
    pub fn source(&self) -> &'static str {
        match self {
            License::Expression(_, LicenseSource::LicenseExpression) => "License-Expression",
            License::Expression(_, LicenseSource::Classifiers) => "Classifier",
            License::Name(_) => "License",
        }
    }
}

/// The SPDX identifier of a `License ::` classifier, when the classifier names one license and one
/// version unambiguously. "BSD License", "Apache Software License" or "GNU General Public License v2
/// (GPLv2)" (only or or-later?) name none.
fn classifier_spdx(classifier: &str) -> Option<&'static str> {
    let last = classifier.rsplit("::").next()?.trim();
    Some(match last {
        "MIT License" => "MIT",
        "MIT No Attribution License (MIT-0)" => "MIT-0",
        "ISC License (ISCL)" => "ISC",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "Mozilla Public License 1.1 (MPL 1.1)" => "MPL-1.1",
        "Python Software Foundation License" => "PSF-2.0",
        "The Unlicense (Unlicense)" => "Unlicense",
        "Boost Software License 1.0 (BSL-1.0)" => "BSL-1.0",
        "Eclipse Public License 1.0 (EPL-1.0)" => "EPL-1.0",
        "Eclipse Public License 2.0 (EPL-2.0)" => "EPL-2.0",
        "Universal Permissive License (UPL)" => "UPL-1.0",
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication" => "CC0-1.0",
        "GNU General Public License v2 or later (GPLv2+)" => "GPL-2.0-or-later",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
        "GNU Lesser General Public License v3 or later (LGPLv3+)" => "LGPL-3.0-or-later",
        "GNU Affero General Public License v3 or later (AGPLv3+)" => "AGPL-3.0-or-later",
        _ => return None,
    })
}

/// The license of a distribution: PEP 639's `License-Expression` when given; else the SPDX identifier
/// of its `License ::` classifiers when they all map to one (an unambiguous classifier); else the first
/// line of the `License` field as a name; else none.
///
/// # References
/// PEP 639 ("Converting legacy metadata"): tools should not guess an expression from ambiguous
/// classifiers.
pub fn license_of(metadata: &Metadata) -> Option<License> {
    if let Some(expression) = &metadata.license_expression {
        return Some(License::Expression(
            expression.clone(),
            LicenseSource::LicenseExpression,
        ));
    }
    let license_classifiers: Vec<&String> = metadata
        .classifiers
        .iter()
        .filter(|c| c.starts_with("License ::") && c.trim() != "License :: OSI Approved")
        .collect();
    let mapped: BTreeSet<Option<&str>> = license_classifiers
        .iter()
        .map(|c| classifier_spdx(c))
        .collect();
    if let [Some(id)] = mapped.iter().copied().collect::<Vec<_>>()[..] {
        return Some(License::Expression(
            id.to_owned(),
            LicenseSource::Classifiers,
        ));
    }
    metadata
        .license
        .as_deref()
        .and_then(|l| l.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(|l| License::Name(l.to_owned()))
}

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The values of PEP 508's environment markers that the SBOM knows for the target interpreter; a
/// marker naming another variable is unknown, and its requirement counts when the distribution it
/// names is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerEnvironment {
    /// `python_full_version` (`3.11.2`); `python_version` is its first two parts.
    pub python_full_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Variable(String),
    Op(String),
    Open,
    Close,
    And,
    Or,
}

fn tokenize(marker: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = marker.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..].iter().position(|&d| d == c)? + i + 1;
            tokens.push(Token::Text(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if "<>=!~".contains(c) {
            let mut op = String::new();
            while i < chars.len() && "<>=!~".contains(chars[i]) {
                op.push(chars[i]);
                i += 1;
            }
            tokens.push(Token::Op(op));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                word.push(chars[i]);
                i += 1;
            }
            match word.as_str() {
                "and" => tokens.push(Token::And),
                "or" => tokens.push(Token::Or),
                "in" => tokens.push(Token::Op("in".into())),
                "not" => tokens.push(Token::Op("not".into())),
                _ => tokens.push(Token::Variable(word)),
            }
        } else {
            return None;
        }
    }
    // `not in` is one operator.
    let mut merged: Vec<Token> = Vec::new();
    for token in tokens {
        if token == Token::Op("in".into()) && merged.last() == Some(&Token::Op("not".into())) {
            merged.pop();
            merged.push(Token::Op("not in".into()));
        } else {
            merged.push(token);
        }
    }
    Some(merged)
}

/// Three-valued evaluation of a PEP 508 marker: Some(true), Some(false), or None (unknown: a
/// variable the SBOM does not know, or a marker it cannot read). `extra` is the extra being asked
/// about (None: `extra == …` is false).
fn evaluate_marker(marker: &str, env: &MarkerEnvironment, extra: Option<&str>) -> Option<bool> {
    let tokens = tokenize(marker)?;
    let mut parser = MarkerParser {
        tokens: &tokens,
        at: 0,
        env,
        extra,
    };
    let value = parser.or_expression()?;
    (parser.at == tokens.len()).then_some(value)?
}

struct MarkerParser<'a> {
    tokens: &'a [Token],
    at: usize,
    env: &'a MarkerEnvironment,
    extra: Option<&'a str>,
}

impl MarkerParser<'_> {
    /// The outer Option: whether it parsed; the inner: the three-valued result.
    fn or_expression(&mut self) -> Option<Option<bool>> {
        let mut value = self.and_expression()?;
        while self.tokens.get(self.at) == Some(&Token::Or) {
            self.at += 1;
            let right = self.and_expression()?;
            value = match (value, right) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            };
        }
        Some(value)
    }

    fn and_expression(&mut self) -> Option<Option<bool>> {
        let mut value = self.atom()?;
        while self.tokens.get(self.at) == Some(&Token::And) {
            self.at += 1;
            let right = self.atom()?;
            value = match (value, right) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
        }
        Some(value)
    }

    fn atom(&mut self) -> Option<Option<bool>> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let value = self.or_expression()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return None;
            }
            self.at += 1;
            return Some(value);
        }
        let left = self.tokens.get(self.at)?.clone();
        let Token::Op(op) = self.tokens.get(self.at + 1)?.clone() else {
            return None;
        };
        let right = self.tokens.get(self.at + 2)?.clone();
        self.at += 3;
        Some(self.compare(&left, &op, &right))
    }

    /// The value of a variable (with whether it is a version), None when unknown.
    fn value(&self, token: &Token) -> Option<(Option<String>, bool)> {
        match token {
            Token::Text(text) => Some((Some(text.clone()), false)),
            Token::Variable(name) => Some(match name.as_str() {
                "python_full_version" => (self.env.python_full_version.clone(), true),
                "python_version" => (
                    self.env
                        .python_full_version
                        .as_ref()
                        .map(|v| v.split('.').take(2).collect::<Vec<_>>().join(".")),
                    true,
                ),
                "sys_platform" => (Some("linux".into()), false),
                "os_name" => (Some("posix".into()), false),
                "platform_system" => (Some("Linux".into()), false),
                "implementation_name" => (Some("cpython".into()), false),
                "platform_python_implementation" => (Some("CPython".into()), false),
                "extra" => (
                    Some(self.extra.map(normalize_name).unwrap_or_default()),
                    false,
                ),
                _ => (None, false),
            }),
            _ => None,
        }
    }

    fn compare(&self, left: &Token, op: &str, right: &Token) -> Option<bool> {
        let (left_value, left_version) = self.value(left)?;
        let (right_value, right_version) = self.value(right)?;
        let extra = matches!(left, Token::Variable(v) if v == "extra")
            || matches!(right, Token::Variable(v) if v == "extra");
        let (mut l, mut r) = (left_value?, right_value?);
        if extra {
            l = normalize_name(&l);
            r = normalize_name(&r);
        }
        match op {
            "in" => return Some(r.contains(&l)),
            "not in" => return Some(!r.contains(&l)),
            _ => {}
        }
        if left_version || right_version {
            if op == "==" || op == "!=" {
                if let Some(prefix) = r.strip_suffix(".*") {
                    let matches = l == prefix || l.starts_with(&format!("{prefix}."));
                    return Some(matches == (op == "=="));
                }
            }
            let (a, b) = (version_parts(&l)?, version_parts(&r)?);
            let ordering = compare_versions(&a, &b);
            return Some(match op {
                "==" | "===" => ordering.is_eq(),
                "!=" => ordering.is_ne(),
                "<" => ordering.is_lt(),
                "<=" => ordering.is_le(),
                ">" => ordering.is_gt(),
                ">=" => ordering.is_ge(),
                "~=" => {
                    let prefix = &b[..b.len().saturating_sub(1).max(1)];
                    ordering.is_ge() && a.len() >= prefix.len() && a[..prefix.len()] == *prefix
                }
                _ => return None,
            });
        }
        match op {
            "==" | "===" => Some(l == r),
            "!=" => Some(l != r),
            _ => None,
        }
    }
}

fn version_parts(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

fn compare_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// A `Requires-Dist` read: the normalized name, its extras, and its marker.
fn parse_requirement(requirement: &str) -> Option<(String, Vec<String>, Option<String>)> {
    let (spec, marker) = match requirement.split_once(';') {
        Some((spec, marker)) => (spec, Some(marker.trim().to_owned())),
        None => (requirement, None),
    };
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(spec.len());
    let name = normalize_name(&spec[..end]);
    if name.is_empty() {
        return None;
    }
    let rest = spec[end..].trim_start();
    let extras = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((extras, _)) => extras
            .split(',')
            .map(normalize_name)
            .filter(|e| !e.is_empty())
            .collect(),
        None => Vec::new(),
    };
    Some((name, extras, marker))
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
            let named: Vec<String> = tokenize(marker)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| match t {
                    Token::Text(text) => Some(normalize_name(&text)),
                    _ => None,
                })
                .collect();
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

/// What the SBOM says besides the distributions.
#[derive(Debug, Clone)]
pub struct BomContext<'a> {
    /// The binary package the venv ships in.
    pub package: &'a str,
    /// The venv's final root (`/opt/venvs/demo`).
    pub final_root: &'a Path,
    /// The interpreter version (`3.11.2`), from [`venv_python_version`].
    pub python_version: Option<String>,
    /// The interpreter's Debian package (`python3.11`).
    pub interpreter_package: Option<&'a str>,
    /// The (substvar, relation item) pairs the run computed (`rustvenv:Depends`, `libc6 (>= 2.34)`).
    pub substvars: &'a [(String, String)],
    /// `SOURCE_DATE_EPOCH`, seconds since the epoch: `metadata.timestamp`; none when unset.
    pub source_date_epoch: Option<i64>,
}

/// `seconds` since the epoch as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`).
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A `urn:uuid:` serial number derived from `content`: the first 16 bytes of its SHA-256 with the
/// version set to 8 (RFC 9562's custom UUID) and the RFC 4122 variant bits, so that the same document
/// always has the same serial and another document another one.
pub fn serial_number(content: &[u8]) -> String {
    let digest = sha2::Sha256::digest(content);
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// The final path of `relative` (a path inside the venv), as text.
fn final_path(final_root: &Path, relative: &Path) -> String {
    final_root.join(relative).to_string_lossy().into_owned()
}

/// The Debian packages of the relation items in `substvars`: (name, [(substvar, alternative as
/// written)]), by name. Each alternative of `a | b` counts; an architecture qualifier (`:any`) is
/// dropped from the name.
fn debian_packages(substvars: &[(String, String)]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut packages: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (substvar, item) in substvars {
        for alternative in item.split('|').map(str::trim).filter(|a| !a.is_empty()) {
            let name: String = alternative
                .chars()
                .take_while(|c| !matches!(c, ' ' | '(' | ':' | '[' | '<'))
                .collect();
            if !name.is_empty() {
                packages
                    .entry(name)
                    .or_default()
                    .push((substvar.clone(), alternative.to_owned()));
            }
        }
    }
    packages
}

/// The CycloneDX 1.6 JSON SBOM of `distributions` (from [`installed`]) and `context`, as text
/// ending with a newline. Reproducible: components and dependencies sorted, object keys sorted, the
/// timestamp only from `SOURCE_DATE_EPOCH`, the serial number derived from the rest of the document
/// ([`serial_number`]), and every path a path of the installed system.
///
/// Each distribution is a `library` component (`bom-ref` its purl) with its license, the hash of the
/// wheelhouse file it came from (when [`find_artifact`] found one), its bundled native libraries as
/// nested components, and its direct dependencies ([`dependencies`]); the interpreter is a `platform`
/// component, and each Debian package of the substvars a `library` component with a `pkg:deb` purl.
///
/// # References
/// CycloneDX 1.6 JSON schema (`bom-1.6.schema.json`); purl types `pypi` and `deb`.
pub fn document(distributions: &[Distribution], context: &BomContext) -> String {
    let root_ref = deb_purl(context.package);
    let interpreter_ref = "python-interpreter".to_owned();
    let env = MarkerEnvironment {
        python_full_version: context.python_version.clone(),
    };
    let edges = dependencies(distributions, &env);
    let by_name: BTreeMap<String, &Distribution> = distributions
        .iter()
        .map(|d| (normalize_name(&d.metadata.name), d))
        .collect();
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    for d in distributions {
        let purl = d.purl();
        let mut component = json!({
            "type": "library",
            "bom-ref": purl,
            "name": d.metadata.name,
            "version": d.metadata.version,
            "purl": purl,
        });
        if let Some(license) = license_of(&d.metadata) {
            component["licenses"] = match &license {
                License::Expression(expression, _) => json!([{"expression": expression}]),
                License::Name(name) => json!([{"license": {"name": name}}]),
            };
        }
        let mut properties = vec![property(
            "dh-rustvenv:dist-info",
            final_path(context.final_root, &d.site_packages.join(&d.dist_info)),
        )];
        if let Some(license) = license_of(&d.metadata) {
            properties.push(property("dh-rustvenv:license-source", license.source()));
        }
        if let Some((file, sha256)) = &d.artifact {
            component["hashes"] = json!([{"alg": "SHA-256", "content": sha256}]);
            properties.push(property("dh-rustvenv:artifact", file.clone()));
        }
        component["properties"] = Value::Array(properties);
        let mut libraries: Vec<Value> = d
            .native_libraries
            .iter()
            .map(|library| {
                let file_name = library
                    .path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let mut properties = vec![property(
                    "dh-rustvenv:path",
                    final_path(context.final_root, &d.site_packages.join(&library.path)),
                )];
                if let Some(soname) = &library.soname {
                    properties.push(property("dh-rustvenv:soname", soname.clone()));
                }
                json!({
                    "type": "library",
                    "bom-ref": format!("{purl}#{}", library.path.to_string_lossy()),
                    "name": library.soname.clone().unwrap_or(file_name),
                    "hashes": [{"alg": "SHA-256", "content": library.sha256}],
                    "properties": properties,
                })
            })
            .collect();
        libraries.sort_by_key(|c| c["bom-ref"].as_str().unwrap_or_default().to_owned());
        if !libraries.is_empty() {
            component["components"] = Value::Array(libraries);
        }
        components.insert(purl, component);
    }
    let debian = debian_packages(context.substvars);
    for (name, relations) in &debian {
        let purl = deb_purl(name);
        let required = relations.iter().any(|(s, _)| s.ends_with(":Depends"));
        let properties: Vec<Value> = relations
            .iter()
            .map(|(substvar, relation)| {
                property("dh-rustvenv:relation", format!("{substvar}: {relation}"))
            })
            .collect();
        components.insert(
            purl.clone(),
            json!({
                "type": "library",
                "bom-ref": purl,
                "name": name,
                "purl": purl,
                "scope": if required { "required" } else { "optional" },
                "properties": properties,
            }),
        );
    }
    let mut interpreter = json!({
        "type": "platform",
        "bom-ref": interpreter_ref,
        "name": "python",
    });
    if let Some(version) = &context.python_version {
        interpreter["version"] = json!(version);
    }
    if let Some(package) = context.interpreter_package {
        interpreter["properties"] = json!([property("dh-rustvenv:debian-package", package)]);
    }
    components.insert(interpreter_ref.clone(), interpreter);

    let mut dependencies: Vec<Value> = Vec::new();
    let required_by_others: BTreeSet<&String> = edges.values().flatten().collect();
    let mut root_needs: BTreeSet<String> = BTreeSet::new();
    root_needs.insert(interpreter_ref.clone());
    for (name, relations) in &debian {
        if relations.iter().any(|(s, _)| s.ends_with(":Depends")) {
            root_needs.insert(deb_purl(name));
        }
    }
    for (name, needs) in &edges {
        let Some(d) = by_name.get(name) else { continue };
        if !required_by_others.contains(name) {
            root_needs.insert(d.purl());
        }
        let refs: BTreeSet<String> = needs
            .iter()
            .filter_map(|n| by_name.get(n).map(|d| d.purl()))
            .collect();
        dependencies.push(json!({"ref": d.purl(), "dependsOn": refs}));
    }
    let interpreter_needs: Vec<String> = context
        .interpreter_package
        .filter(|p| debian.contains_key(*p))
        .map(deb_purl)
        .into_iter()
        .collect();
    dependencies.push(json!({"ref": interpreter_ref, "dependsOn": interpreter_needs}));
    dependencies.push(json!({"ref": root_ref, "dependsOn": root_needs}));
    dependencies.sort_by_key(|d| d["ref"].as_str().unwrap_or_default().to_owned());

    let mut metadata = json!({
        "component": {
            "type": "application",
            "bom-ref": root_ref,
            "name": context.package,
            "purl": root_ref,
            "properties": [property(
                "dh-rustvenv:venv",
                context.final_root.to_string_lossy().into_owned(),
            )],
        },
        "tools": {"components": [{
            "type": "application",
            "name": "dh-rustvenv",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "lifecycles": [{"phase": "build"}],
    });
    if let Some(epoch) = context.source_date_epoch {
        metadata["timestamp"] = json!(rfc3339(epoch));
    }
    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components.into_values().collect::<Vec<_>>(),
        "dependencies": dependencies,
    });
    let without_serial = serde_json::to_vec(&bom).unwrap_or_default();
    bom["serialNumber"] = json!(serial_number(&without_serial));
    let mut text = serde_json::to_string_pretty(&bom).unwrap_or_default();
    text.push('\n');
    text
}

/// The path of `relative` (a path inside the venv) under the final root, without its leading `/`,
/// with the `python3.X` directory of `lib/` as `python3*` so that the stanza survives an interpreter
/// upgrade.
fn installed_glob(final_root: &Path, relative: &Path) -> String {
    let mut parts: Vec<String> = final_root
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let relative: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (i, text) in relative.iter().enumerate() {
        if i == 1 && relative[0] == "lib" && text.starts_with("python3") {
            parts.push("python3*".to_owned());
        } else {
            parts.push(text.clone());
        }
    }
    parts.join("/")
}

/// The license files of `d`, relative to its site-packages (`greetlib-1.0.dist-info/licenses/LICENSE`):
/// each `License-File` where it is (PEP 639's `licenses/`, or the dist-info itself as older tools
/// put them), else what the `licenses/` directory holds, as RECORD lists it.
fn license_files(d: &Distribution) -> Vec<String> {
    let dist_info = d.site_packages.join(&d.dist_info);
    let listed: BTreeSet<&PathBuf> = d.files.iter().collect();
    let mut found: Vec<String> = Vec::new();
    for name in &d.metadata.license_files {
        for dir in ["licenses", "license_files", ""] {
            let candidate = crate::tree::normalize(&dist_info.join(dir).join(name));
            if listed.contains(&candidate) {
                if let Ok(inside) = candidate.strip_prefix(&d.site_packages) {
                    found.push(inside.to_string_lossy().into_owned());
                }
                break;
            }
        }
    }
    if found.is_empty() {
        let licenses = dist_info.join("licenses");
        found = d
            .files
            .iter()
            .filter(|f| f.starts_with(&licenses))
            .filter_map(|f| f.strip_prefix(&d.site_packages).ok())
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
    }
    found
}

/// DEP-5 stanzas, one per distribution of `distributions`: `Files:` the globs of what its RECORD
/// installed, under the final root without the leading `/` (a package directory as `dir/*`, a module
/// or a script as itself, the dist-info as `name.dist-info/*`); `Copyright:` to be filled in;
/// `License:` the SPDX expression ([`license_of`]), or `UNKNOWN`; `Comment:` the distribution, where
/// its license was read and its license files. A maintainer pastes what applies into debian/copyright.
///
/// # References
/// DEP-5, "Files paragraph"; PEP 639 (`License-File`, `.dist-info/licenses/`).
pub fn copyright_fragment(distributions: &[Distribution], final_root: &Path) -> String {
    let mut out = String::from(
        "# The distributions installed in the venv, from their metadata, as DEP-5 (debian/copyright)\n\
         # stanzas: paste what applies into debian/copyright and fill in the Copyright fields.\n",
    );
    for d in distributions {
        let mut globs: BTreeSet<String> = BTreeSet::new();
        for file in &d.files {
            match file.strip_prefix(&d.site_packages) {
                Ok(inside) => {
                    let mut parts = inside.components();
                    let Some(first) = parts.next() else { continue };
                    let first = d.site_packages.join(first.as_os_str());
                    let top_name = first.file_name().unwrap_or_default().to_string_lossy();
                    if top_name == "__pycache__" {
                        continue;
                    }
                    if parts.next().is_some() {
                        globs.insert(format!("{}/*", installed_glob(final_root, &first)));
                    } else {
                        globs.insert(installed_glob(final_root, &first));
                    }
                }
                Err(_) => {
                    globs.insert(installed_glob(final_root, file));
                }
            }
        }
        globs.insert(format!(
            "{}/*",
            installed_glob(final_root, &d.site_packages.join(&d.dist_info))
        ));
        let license = license_of(&d.metadata);
        let license_field = match &license {
            Some(License::Expression(expression, _)) => expression.clone(),
            _ => "UNKNOWN".to_owned(),
        };
        let mut comment = format!(
            "{} {} (PyPI: {}).",
            d.metadata.name,
            d.metadata.version,
            pypi_purl(&d.metadata.name, &d.metadata.version)
        );
        match &license {
            Some(License::Expression(_, LicenseSource::LicenseExpression)) => {
                comment.push_str(" License from License-Expression.")
            }
            Some(License::Expression(_, LicenseSource::Classifiers)) => {
                comment.push_str(" License from the License classifiers.")
            }
            Some(License::Name(name)) => {
                comment.push_str(&format!(" The metadata names the license \"{name}\"."))
            }
            None => comment.push_str(" The metadata names no license."),
        }
        let files = license_files(d);
        if !files.is_empty() {
            comment.push_str(&format!(" License files: {}.", files.join(", ")));
        }
        out.push('\n');
        let globs: Vec<String> = globs.into_iter().collect();
        out.push_str(&format!("Files: {}\n", globs.join("\n ")));
        out.push_str(if files.is_empty() {
            "Copyright: not stated in the metadata\n"
        } else {
            "Copyright: not stated in the metadata; see the license files\n"
        });
        out.push_str(&format!("License: {license_field}\n"));
        out.push_str(&format!("Comment: {comment}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.4\nName: Greet_Lib\nVersion: 1.0+local.1\n\
License-Expression: MIT OR Apache-2.0\nLicense-File: LICENSE\nLicense-File: NOTICE\n\
Classifier: License :: OSI Approved :: MIT License\nRequires-Dist: colorama>=0.4\n\
Requires-Dist: PySocks!=1.5.7; extra == \"socks\"\n\
Requires-Dist: typing-extensions; python_version < \"3.8\"\n\
Requires-Dist: tomli; python_version < '3.11' and sys_platform == 'linux'\n\
License: a long\n       license text\n\nName: not a header\n";

    #[test]
    fn metadata_header_is_read_and_the_body_ignored() {
        let m = parse_metadata(METADATA);
        assert_eq!(m.name, "Greet_Lib");
        assert_eq!(m.version, "1.0+local.1");
        assert_eq!(m.license_expression.as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(m.license.as_deref(), Some("a long\nlicense text"));
        assert_eq!(m.license_files, ["LICENSE", "NOTICE"]);
        assert_eq!(m.requires_dist.len(), 4);
        assert_eq!(m.classifiers.len(), 1);
        assert_eq!(parse_metadata(""), Metadata::default());
        assert_eq!(parse_metadata("no colon here\nName: x\n").name, "");
    }

    #[test]
    fn license_prefers_the_expression_then_unambiguous_classifiers_then_the_field() {
        let mut m = parse_metadata(METADATA);
        assert_eq!(
            license_of(&m),
            Some(License::Expression(
                "MIT OR Apache-2.0".into(),
                LicenseSource::LicenseExpression
            ))
        );
        m.license_expression = None;
        assert_eq!(
            license_of(&m),
            Some(License::Expression(
                "MIT".into(),
                LicenseSource::Classifiers
            ))
        );
        // Two classifiers that map to two licenses, or one that maps to none: the License field.
        m.classifiers
            .push("License :: OSI Approved :: ISC License (ISCL)".into());
        assert_eq!(license_of(&m), Some(License::Name("a long".into())));
        m.classifiers = vec!["License :: OSI Approved :: BSD License".into()];
        assert_eq!(license_of(&m), Some(License::Name("a long".into())));
        m.license = None;
        assert_eq!(license_of(&m), None);
        m.classifiers = vec![
            "License :: OSI Approved".into(),
            "License :: OSI Approved :: MIT License".into(),
            "License :: OSI Approved :: MIT License".into(),
        ];
        assert_eq!(license_of(&m).unwrap().text(), "MIT");
        assert_eq!(license_of(&parse_metadata("License: UNKNOWN\n")), None);
    }

    #[test]
    fn names_are_normalized_as_pep_503_says_and_purls_encoded() {
        assert_eq!(normalize_name("Greet_Lib"), "greet-lib");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("A-_.b__C"), "a-b-c");
        assert_eq!(normalize_name("ruamel.yaml.clib"), "ruamel-yaml-clib");
        assert_eq!(
            pypi_purl("Greet_Lib", "1.0+local.1"),
            "pkg:pypi/greet-lib@1.0%2Blocal.1"
        );
        assert_eq!(deb_purl("libstdc++6"), "pkg:deb/debian/libstdc%2B%2B6");
    }

    #[test]
    fn markers_are_evaluated_in_three_values() {
        let env = MarkerEnvironment {
            python_full_version: Some("3.11.2".into()),
        };
        let eval = |m: &str| evaluate_marker(m, &env, None);
        assert_eq!(eval("python_version < \"3.8\""), Some(false));
        assert_eq!(eval("python_version >= '3.11'"), Some(true));
        assert_eq!(eval("python_full_version == '3.11.*'"), Some(true));
        assert_eq!(eval("python_version ~= '3.9'"), Some(true));
        assert_eq!(
            eval("sys_platform == 'win32' or python_version > '3'"),
            Some(true)
        );
        assert_eq!(
            eval("(os_name == 'nt') and platform_machine == 'x86_64'"),
            Some(false)
        );
        assert_eq!(eval("platform_machine == 'x86_64'"), None);
        assert_eq!(eval("'linux' in sys_platform"), Some(true));
        assert_eq!(eval("extra == 'socks'"), Some(false));
        assert_eq!(
            evaluate_marker("extra == 'Socks'", &env, Some("socks")),
            Some(true)
        );
        assert_eq!(eval("python_version <"), None);
    }

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

    #[test]
    fn times_and_serials_are_derived_not_taken_from_the_clock() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        let serial = serial_number(b"a");
        assert_eq!(serial, serial_number(b"a"));
        assert_ne!(serial, serial_number(b"b"));
        let uuid = serial.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "8");
        assert!("89ab".contains(&uuid[19..20]));
    }

    /// A venv with one distribution that bundles a native library (an ELF file: the test binary), and
    /// a wheelhouse with its wheel.
    fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
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
    fn the_sbom_is_reproducible_and_names_no_build_path() {
        let dir = tempfile::tempdir().unwrap();
        let (root, wheelhouse) = fixture(dir.path());
        let distributions = installed(&root, Some(&wheelhouse)).unwrap();
        assert_eq!(distributions.len(), 1);
        let d = &distributions[0];
        assert_eq!(d.native_libraries.len(), 1);
        assert_eq!(
            d.artifact.as_ref().unwrap().1,
            hex(&sha2::Sha256::digest(b"wheel"))
        );
        let substvars = [
            ("rustvenv:Depends".to_owned(), "python3.11".to_owned()),
            ("rustvenv:Depends".to_owned(), "libc6 (>= 2.34)".to_owned()),
            (
                "rustvenv:Recommends".to_owned(),
                "libpq5 | libpq-dev".to_owned(),
            ),
        ];
        let context = BomContext {
            package: "demo",
            final_root: Path::new("/opt/venvs/demo"),
            python_version: venv_python_version(&root).unwrap(),
            interpreter_package: Some("python3.11"),
            substvars: &substvars,
            source_date_epoch: Some(1_700_000_000),
        };
        let text = document(&distributions, &context);
        assert_eq!(
            text,
            document(&installed(&root, Some(&wheelhouse)).unwrap(), &context)
        );
        assert!(!text.contains(&*dir.path().to_string_lossy()), "{text}");
        let bom: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        let serial = bom["serialNumber"].as_str().unwrap().to_owned();
        let mut without = bom.clone();
        without.as_object_mut().unwrap().remove("serialNumber");
        assert_eq!(
            serial,
            serial_number(&serde_json::to_vec(&without).unwrap())
        );
        let refs: Vec<&str> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        assert_eq!(
            refs,
            [
                "pkg:deb/debian/libc6",
                "pkg:deb/debian/libpq-dev",
                "pkg:deb/debian/libpq5",
                "pkg:deb/debian/python3.11",
                "pkg:pypi/greetlib@1.0",
                "python-interpreter"
            ]
        );
        let greetlib = &bom["components"][4];
        assert_eq!(greetlib["licenses"][0]["expression"], "MIT");
        let library = &greetlib["components"][0];
        assert_eq!(
            library["properties"][0]["value"],
            "/opt/venvs/demo/lib/python3.11/site-packages/greetlib.libs/libgreet-1a2b.so.1"
        );
        assert_eq!(bom["components"][5]["version"], "3.11.2");
        // Unset SOURCE_DATE_EPOCH: no timestamp, and another serial.
        let later = document(
            &distributions,
            &BomContext {
                source_date_epoch: None,
                ..context.clone()
            },
        );
        assert!(!later.contains("timestamp"));
        assert!(!later.contains(&serial));
    }

    #[test]
    fn the_copyright_fragment_has_one_stanza_per_distribution() {
        let dir = tempfile::tempdir().unwrap();
        let (root, _) = fixture(dir.path());
        let distributions = installed(&root, None).unwrap();
        assert_eq!(distributions[0].artifact, None);
        let fragment = copyright_fragment(&distributions, Path::new("/opt/venvs/demo"));
        let stanza = fragment.split("\n\n").nth(1).unwrap();
        assert_eq!(
            stanza,
            "Files: opt/venvs/demo/bin/greet\n \
             opt/venvs/demo/lib/python3*/site-packages/greetlib-1.0.dist-info/*\n \
             opt/venvs/demo/lib/python3*/site-packages/greetlib.libs/*\n \
             opt/venvs/demo/lib/python3*/site-packages/greetlib/*\n\
             Copyright: not stated in the metadata; see the license files\n\
             License: MIT\n\
             Comment: greetlib 1.0 (PyPI: pkg:pypi/greetlib@1.0). License from License-Expression. \
             License files: greetlib-1.0.dist-info/licenses/LICENSE.\n"
        );
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
