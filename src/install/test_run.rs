//! `--test`: runs the source package's tests in the staged venv.

use std::path::Path;

use anyhow::{Context, Result};

use super::plan::{InstallPlan, TestCommand};
use super::residue::doit_without_residue;
use super::venv::python_command;
use crate::debhelper::Reporter;
use crate::layout::Layout;

/// Runs the source package's tests in the staged venv, in the source directory; what they leave in
/// the source tree is removed again.
pub(super) fn run_tests(
    layout: &Layout,
    plan: &InstallPlan,
    tests: &TestCommand,
    reporter: &Reporter,
) -> Result<()> {
    let staging = &layout.staging_root;
    let command = match tests {
        TestCommand::Pytest => python_command(&staging.join("bin/python"), plan).args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
        ]),
        TestCommand::Shell(line) => {
            let mut path = staging.join("bin").into_os_string();
            if let Some(build_path) = &plan.search_path {
                path.push(":");
                path.push(build_path);
            }
            python_command(Path::new("/bin/sh"), plan)
                .args(["-c", line])
                .env("PATH", path)
                .env("VIRTUAL_ENV", staging)
        }
    };
    doit_without_residue(
        reporter,
        &command.dir(&layout.source_dir),
        &layout.source_dir,
        layout,
    )?
    .context("running the tests (--test; DEB_BUILD_OPTIONS=nocheck skips them)")
}
