//! Builds the way container users build: the source package is the image's WORKDIR, /app. The path
//! matcher finds a build path only as a whole path, so the short top directory gives no false finding
//! in third-party code (`/applications/...`, `prepend/append`), while a real leak is still caught,
//! also in a file rules add to the venv after dh_rustvenv ran.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{SourcePackage, describe, files_naming, run, run_unchecked, scratch, with_tool_env};

const APP: &str = "/app";

/// Holds /app for one build, and removes it and what dpkg-buildpackage wrote beside it in / when
/// dropped.
struct AppDir;

impl AppDir {
    fn take() -> AppDir {
        let app = Path::new(APP);
        let busy = fs::read_dir(app).is_ok_and(|mut d| d.next().is_some());
        assert!(
            !busy,
            "{APP} is in use on this machine; the test builds there"
        );
        AppDir
    }

    fn fill_from(&self, source: &Path) {
        let _ = fs::remove_dir_all(APP);
        run(Command::new("cp").arg("-a").arg(source).arg(APP));
    }

    fn build(&self) -> std::process::Output {
        let mut command = Command::new("dpkg-buildpackage");
        command.args(["-us", "-uc", "-b", "-d"]).current_dir(APP);
        with_tool_env(&mut command);
        run_unchecked(&mut command)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(APP);
        for entry in fs::read_dir("/").unwrap().filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let built = [".deb", ".changes", ".buildinfo"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if built && (name.starts_with("demosite") || name.starts_with("rvapp")) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[test]
fn builds_in_app_find_no_false_leak_and_still_catch_a_real_one() {
    let tmp = scratch("container-");
    let app = AppDir::take();

    app.fill_from(&common::repo().join("debian-example"));
    let output = app.build();
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dpkg-buildpackage"), &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("name the build directory"), "{stderr}");
    let extracted = tmp.path().join("demosite");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg("/demosite_1.0.0_amd64.deb")
        .arg(&extracted));
    let venv = extracted.join("opt/venvs/demosite");
    assert!(venv.join("bin/demosite").is_file());
    // The audit (which fails the build on any finding) found none, although the venv is full of what
    // a substring match of /app takes for leaks: `/applications/example`, `https://example.com/app/`,
    // `/var/app/images`, `gunicorn/app/...`.
    assert!(!files_naming(&venv, "/applications").is_empty());
    assert!(files_naming(&venv, "/app/").len() >= 3);

    // A leak planted after dh_rustvenv ran, by an override target: the late stage's audit fails it.
    let source = SourcePackage::new(tmp.path(), "rvapp");
    source.rules(&format!(
        "override_dh_rustvenv:\n\tdh_rustvenv {}\n\
         \techo \"DATA_DIR = '$(CURDIR)/data'\" > debian/rvapp/opt/venvs/rvapp/lib/python3.11/site-packages/fixtureapp/settings.py\n",
        common::OFFLINE_ARGS
    ));
    app.fill_from(&source.dir);
    let output = app.build();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the planted leak passed:\n{stderr}"
    );
    assert!(
        stderr.contains("dh_rustvenv_finish: error: package rvapp: 1 file(s) in the venv still name the build directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fixtureapp/settings.py: names /app"),
        "{stderr}"
    );
}
