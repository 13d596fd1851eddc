//! What pip's installation report of a cross build's dry run says it would install, and what the
//! venv already holds.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::merge::project_name;

/// The distributions installed in `site_packages`, by normalized name (PEP 503) with their versions,
/// from the `.dist-info` directory names (PEP 427's escaped names).
pub(super) fn installed_distributions(site_packages: &Path) -> Result<Vec<(String, String)>> {
    let mut installed = Vec::new();
    if site_packages.is_dir() {
        for entry in fs::read_dir(site_packages)
            .with_context(|| format!("reading {}", site_packages.display()))?
        {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some((dist, version)) = name
                .strip_suffix(".dist-info")
                .and_then(|stem| stem.split_once('-'))
            {
                installed.push((project_name(dist), version.to_owned()));
            }
        }
    }
    installed.sort();
    Ok(installed)
}

/// One distribution pip's installation report says it would install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    /// Its name, as its metadata spells it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Whether it was asked for (on the command line or in a requirements file), rather than
    /// pulled in as a dependency: only then does it get a `REQUESTED` file (PEP 376).
    pub requested: bool,
    /// Its archive's URL when it was asked for by URL or path (the project's wheel), which is then
    /// what is installed.
    pub direct_url: Option<String>,
}

impl Resolved {
    /// What `pip install --no-deps` is given for it: `name==version`, or its URL.
    pub(super) fn requirement(&self) -> String {
        match &self.direct_url {
            Some(url) => url.clone(),
            None => format!("{}=={}", self.name, self.version),
        }
    }
}

/// Reads pip's installation report (`pip install --dry-run --report`): what it would install.
///
/// # Errors
/// When the file cannot be read or is not the report's JSON; the message names it.
///
/// # References
/// pip's installation report (format version 1, pip 22.2 and later): `install[]`, each with
/// `metadata.name`, `metadata.version`, `requested`, `is_direct` and `download_info.url`.
pub(super) fn read_report(path: &Path) -> Result<Vec<Resolved>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("reading pip's report {}", path.display()))?;
    let mut resolved = Vec::new();
    for item in report["install"].as_array().into_iter().flatten() {
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        resolved.push(Resolved {
            name: text(&item["metadata"]["name"]),
            version: text(&item["metadata"]["version"]),
            requested: item["requested"].as_bool().unwrap_or(true),
            direct_url: item["is_direct"]
                .as_bool()
                .unwrap_or(false)
                .then(|| text(&item["download_info"]["url"])),
        });
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_what_to_install_and_what_was_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        fs::write(
            &report,
            r#"{"version": "1", "install": [
                {"metadata": {"name": "Flask", "version": "3.1.3"}, "requested": true, "is_direct": false,
                 "download_info": {"url": "file:///w/flask-3.1.3-py3-none-any.whl"}},
                {"metadata": {"name": "blinker", "version": "1.9.0"}, "requested": false, "is_direct": false,
                 "download_info": {"url": "file:///w/blinker-1.9.0-py3-none-any.whl"}},
                {"metadata": {"name": "demo", "version": "1.0"}, "requested": true, "is_direct": true,
                 "download_info": {"url": "file:///b/demo-1.0-py3-none-any.whl"}}]}"#,
        )
        .unwrap();
        let resolved = read_report(&report).unwrap();
        let requirements: Vec<String> = resolved.iter().map(Resolved::requirement).collect();
        assert_eq!(
            requirements,
            [
                "Flask==3.1.3",
                "blinker==1.9.0",
                "file:///b/demo-1.0-py3-none-any.whl"
            ]
        );
        assert_eq!(
            resolved.iter().map(|r| r.requested).collect::<Vec<_>>(),
            [true, false, true]
        );
    }
}
