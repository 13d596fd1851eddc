//! For the network test of lock files: uv, Poetry and its export plugin installed from PyPI into a
//! scratch venv, and what pip would install for this interpreter from a requirements file the tools
//! exported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;

/// A venv at `dir` with uv, Poetry (2.1 or later, which writes lock-version 2.1) and
/// poetry-plugin-export, from PyPI; returns its bin/ directory.
pub fn lock_tools(dir: &Path) -> PathBuf {
    run(Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(dir));
    run(Command::new(dir.join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "uv",
        "poetry>=2.1",
        "poetry-plugin-export",
    ]));
    dir.join("bin")
}

/// Runs `program` of `bin` in `project` with its caches under `cache`, asserting success.
pub fn tool(bin: &Path, program: &str, project: &Path, cache: &Path, args: &[&str]) -> String {
    let mut command = Command::new(bin.join(program));
    command
        .args(args)
        .current_dir(project)
        .env("UV_CACHE_DIR", cache.join("uv"))
        .env("POETRY_CACHE_DIR", cache.join("poetry"))
        .env("POETRY_VIRTUALENVS_PATH", cache.join("poetry-venvs"))
        .env("UV_PYTHON", "/usr/bin/python3")
        .env_remove("VIRTUAL_ENV");
    String::from_utf8_lossy(&run(&mut command).stdout).into_owned()
}

/// What pip (of `bin`, whose venv runs /usr/bin/python3) would install from the requirements file `exported`,
/// each requirement alone (`--no-deps`: the file is the whole set), as `name==version` normalized.
pub fn pip_would_install(bin: &Path, exported: &Path, scratch: &Path) -> BTreeSet<String> {
    let report = scratch.join("report.json");
    run(Command::new(bin.join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--report",
        ])
        .arg(&report)
        .arg("-r")
        .arg(exported));
    let text = std::fs::read_to_string(&report).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let name = item["metadata"]["name"].as_str().unwrap();
            let version = item["metadata"]["version"].as_str().unwrap();
            let mut normalized = String::new();
            let mut separator = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    separator = true;
                    continue;
                }
                if separator && !normalized.is_empty() {
                    normalized.push('-');
                }
                separator = false;
                normalized.extend(c.to_lowercase());
            }
            format!("{normalized}=={version}")
        })
        .collect()
}
