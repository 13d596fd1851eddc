//! What a distribution's METADATA says: its header fields (core metadata, PEP 566 and PEP 643), its
//! name normalized as PEP 503 says, its purl, and its license (PEP 639's `License-Expression`, the
//! `License ::` classifiers, or the `License` field).

use std::collections::BTreeSet;

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

/// A distribution name normalized as PEP 503 says; the purl `pypi` type asks for the same
/// (lowercase, `_` as `-`).
pub use crate::markers::normalize_name;

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
}
