//! The license summary: DEP-5 stanzas (machine-readable debian/copyright), one per installed
//! distribution, for a maintainer to paste what applies into debian/copyright.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::installed::Distribution;
use super::metadata::{License, LicenseSource, license_of, pypi_purl};

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
    use std::path::Path;

    use super::*;
    use crate::sbom::installed;
    use crate::sbom::installed::tests::fixture;

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
}
