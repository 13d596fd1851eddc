//! debian-example (demosite) builds offline from its vendored wheelhouse, twice from different
//! directories to byte-identical packages, is lintian-clean, installs, serves its page, and purges.

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    build_copy, deb_field, dpkg_lock, lintian_complaints, purge_if_installed, run, scratch, sha256,
};

#[test]
fn debian_example_builds_offline_reproducibly_and_serves() {
    let tmp = scratch("example-");
    let example = common::repo().join("debian-example");
    let first = build_copy(&example, &tmp.path().join("a"), "demosite-1.0.0");
    let second = build_copy(
        &example,
        &tmp.path().join("a-much-longer-directory/nested"),
        "demosite-1.0.0",
    );
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["demosite"]);
    let dbgsym = |parent: &str| {
        sha256(
            &tmp.path()
                .join(parent)
                .join("demosite-dbgsym_1.0.0_amd64.deb"),
        )
    };
    assert_eq!(
        dbgsym("a"),
        dbgsym("a-much-longer-directory/nested"),
        "demosite-dbgsym differs"
    );
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
