//! The SBOM itself: the CycloneDX 1.6 JSON document of the installed distributions, its file name in
//! the venv, its serial number (derived from the document) and its timestamp (from
//! `SOURCE_DATE_EPOCH` only).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::Digest as _;

use super::installed::{Distribution, dependencies};
use super::metadata::{License, deb_purl, license_of, normalize_name};
use crate::markers::MarkerEnvironment;
use crate::snapshot::hex;

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

/// What the SBOM says besides the distributions.
#[derive(Debug, Clone)]
pub struct BomContext<'a> {
    /// The binary package the venv ships in.
    pub package: &'a str,
    /// The venv's final root (`/opt/venvs/demo`).
    pub final_root: &'a Path,
    /// The interpreter version (`3.11.2`), from [`venv_python_version`](super::venv_python_version).
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

/// The CycloneDX 1.6 JSON SBOM of `distributions` (from [`installed`](fn@super::installed)) and `context`, as text
/// ending with a newline. Reproducible: components and dependencies sorted, object keys sorted, the
/// timestamp only from `SOURCE_DATE_EPOCH`, the serial number derived from the rest of the document
/// ([`serial_number`]), and every path a path of the installed system.
///
/// Each distribution is a `library` component (`bom-ref` its purl) with its license, the hash of the
/// wheelhouse file it came from (when [`find_artifact`](super::find_artifact) found one), its bundled native libraries as
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
        ..MarkerEnvironment::default()
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;
    use sha2::Digest as _;

    use super::*;
    use crate::sbom::installed::tests::fixture;
    use crate::sbom::{installed, venv_python_version};
    use crate::snapshot::hex;

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
}
