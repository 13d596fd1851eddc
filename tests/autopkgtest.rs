//! debian/tests, the autopkgtest of dh-rustvenv, passes against the dh-rustvenv .deb built from this
//! tree: autopkgtest's null backend installs it on this machine and runs the test, which builds,
//! installs, runs and purges a small venv package without network.
//!
//! Opt in with `DH_RUSTVENV_AUTOPKGTEST_TESTS=1` (as root, on a machine where installing packages
//! does no harm): `DH_RUSTVENV_AUTOPKGTEST_TESTS=1 cargo test --test autopkgtest -- --nocapture`.
//! dh-rustvenv stays installed afterwards only if it was installed before (then at this tree's
//! version).

mod common;

use std::fs;
use std::process::Command;

use common::{dpkg_lock, purge_if_installed, run, run_unchecked, scratch};

/// Whether `package` is installed on this machine.
fn installed(package: &str) -> bool {
    let status = run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
    String::from_utf8_lossy(&status.stdout).contains("ok installed")
}

#[test]
#[cfg_attr(
    not(autopkgtest_tests),
    ignore = "installs packages on this machine with autopkgtest's null backend: run with DH_RUSTVENV_AUTOPKGTEST_TESTS=1"
)]
fn debian_tests_pass_with_the_null_backend() {
    let tmp = scratch("autopkgtest-");
    let debs = common::build_tool_packages(tmp.path());
    let tool = common::tool_deb(&debs).expect("dpkg-buildpackage wrote dh-rustvenv's .deb");
    // The tree autopkgtest reads debian/tests from: this repository without its build products.
    let tree = tmp.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    run(Command::new("sh")
        .arg("-c")
        .arg("tar -C \"$0\" --exclude=./target --exclude=./.git -cf - . | tar -C \"$1\" -xf -")
        .arg(common::repo())
        .arg(&tree));
    let output_dir = tmp.path().join("output");

    let _lock = dpkg_lock();
    let was_installed = installed("dh-rustvenv");
    purge_if_installed("rvgreet");
    let output = run_unchecked(
        Command::new("autopkgtest")
            .arg("--no-built-binaries")
            .arg("--output-dir")
            .arg(&output_dir)
            .arg(tool)
            .arg(format!("{}/", tree.display()))
            .args(["--", "null"]),
    );
    if !was_installed {
        purge_if_installed("dh-rustvenv");
    }
    let summary = fs::read_to_string(output_dir.join("summary")).unwrap_or_default();
    let log = fs::read_to_string(output_dir.join("log")).unwrap_or_default();
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("autopkgtest.log");
    fs::write(&kept, &log).unwrap();
    eprintln!("autopkgtest summary:\n{summary}(log: {})", kept.display());
    assert!(
        output.status.success(),
        "autopkgtest exited with {}; see {}:\n{}",
        output.status,
        kept.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("build-venv-package") && l.contains("PASS")),
        "{summary}"
    );
    assert!(log.contains("ok: rvgreet built, installed, ran and purged"));
}
