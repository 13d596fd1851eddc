//! debian-example (demosite) builds offline from its vendored wheelhouse, twice from different
//! directories to byte-identical packages, is lintian-clean, installs, serves its page, and purges.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    deb_field, dpkg_lock, lintian_complaints, purge_if_installed, run, scratch, with_tool_env,
};

/// Copies debian-example into `parent/demosite-1.0.0`, builds it, and returns its .debs (no -dbgsym).
fn build_copy(parent: &Path) -> Vec<(String, PathBuf)> {
    fs::create_dir_all(parent).unwrap();
    let dir = parent.join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&dir));
    let mut command = Command::new("dpkg-buildpackage");
    // -d: the add-on comes from this repository, not from an installed dh-sequence-rustvenv.
    command.args(["-us", "-uc", "-b", "-d"]).current_dir(&dir);
    with_tool_env(&mut command);
    run(&mut command);
    let mut debs: Vec<(String, PathBuf)> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .split('_')
                    .next()
                    .unwrap()
                    .to_owned(),
                p,
            )
        })
        .collect();
    debs.sort();
    debs
}

fn sha256(path: &Path) -> String {
    let output = run(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn debian_example_builds_offline_reproducibly_and_serves() {
    let tmp = scratch("example-");
    let first = build_copy(&tmp.path().join("a"));
    let second = build_copy(&tmp.path().join("a-much-longer-directory/nested"));
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["demosite", "demosite-dbgsym"]);
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert_eq!(
            sha256(a),
            sha256(b),
            "{name} differs between the two builds"
        );
    }
    let deb = &first[0].1;
    let complaints = lintian_complaints(deb);
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");
    let depends = deb_field(deb, "Depends");
    assert!(
        depends.contains("python3.11") && depends.contains("libc6") && depends.contains("adduser"),
        "{depends}"
    );

    let _lock = dpkg_lock();
    purge_if_installed("demosite");
    run(Command::new("dpkg").arg("-i").arg(deb));
    let shown = run(Command::new("/usr/bin/demosite")
        .arg("show-config")
        .current_dir("/"));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("greeting = Hello from demosite"));

    common::serve_demosite(tmp.path());

    run(Command::new("dpkg").args(["--purge", "demosite"]));
    for gone in ["/opt/venvs/demosite", "/etc/demosite", "/usr/bin/demosite"] {
        assert!(!Path::new(gone).exists(), "{gone} is left after purge");
    }
}
