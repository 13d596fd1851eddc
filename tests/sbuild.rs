//! sbuild in unshare mode (Debian 12, no network during the build) builds debian-example from its
//! vendored wheelhouse, with dh-rustvenv installed into the chroot from the .deb this repository
//! builds; the result installs and serves.
//!
//! Opt in with `DH_RUSTVENV_SBUILD_TESTS=1`: the test installs sbuild, mmdebstrap and uidmap, gives root
//! subordinate ids, and makes the chroot tarball from the Debian archive once
//! (`~/.cache/sbuild/bookworm-amd64.tar.zst`, kept for later runs).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{deb_field, dpkg_lock, purge_if_installed, run, scratch};

/// sbuild, mmdebstrap and uidmap installed, root's subordinate ids, and the chroot tarball.
fn prepare_sbuild() -> PathBuf {
    {
        let _lock = dpkg_lock();
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "sbuild", "mmdebstrap", "uidmap"])
            .env("DEBIAN_FRONTEND", "noninteractive"));
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with("root:")) {
            fs::write(file, format!("{text}root:100000:65536\n")).unwrap();
        }
    }
    let cache = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .join(".cache/sbuild");
    fs::create_dir_all(&cache).unwrap();
    let tarball = cache.join("bookworm-amd64.tar.zst");
    if !tarball.exists() {
        let partial = cache.join("bookworm-amd64.partial.tar.zst");
        run(Command::new("mmdebstrap")
            .args(["--variant=buildd", "bookworm"])
            .arg(&partial));
        fs::rename(&partial, &tarball).unwrap();
    }
    tarball
}

/// Builds dh-rustvenv_<version>_<arch>.deb from a copy of this repository in `dir`.
fn build_dh_rustvenv(dir: &Path) -> PathBuf {
    common::build_tool_packages(dir)
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("dh-rustvenv_")
        })
        .expect("dpkg-buildpackage wrote dh-rustvenv's .deb")
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild and a chroot from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn sbuild_builds_debian_example_offline() {
    prepare_sbuild();
    let tmp = scratch("sbuild-");
    let tool = build_dh_rustvenv(tmp.path());
    let source = tmp.path().join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&source));
    let output = Command::new("sbuild")
        .args([
            "--chroot-mode=unshare",
            "-d",
            "bookworm",
            "--no-run-lintian",
            "--no-run-autopkgtest",
            "--no-run-piuparts",
            // The copy is pristine, and the host need not have the add-on that `debian/rules clean`
            // would load.
            "--no-clean-source",
        ])
        .arg(format!("--extra-package={}", tool.display()))
        .arg(".")
        .current_dir(&source)
        .output()
        .unwrap();
    // sbuild writes its build log beside the source directory; keep a copy for after the test.
    let log = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "build"))
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_else(|| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sbuild-demosite.build");
    fs::write(&kept, &log).unwrap();
    let tail: Vec<&str> = log
        .lines()
        .rev()
        .take(25)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    eprintln!(
        "last lines of the sbuild log ({}):\n{}",
        kept.display(),
        tail.join("\n")
    );
    assert!(
        output.status.success(),
        "sbuild failed; see {}",
        kept.display()
    );
    assert!(
        log.contains("dh_rustvenv"),
        "dh_rustvenv did not run; see {}",
        kept.display()
    );
    assert!(log.contains("Status: successful"), "see {}", kept.display());

    let deb = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("demosite_") && name.ends_with(".deb")
        })
        .expect("sbuild wrote demosite's .deb");
    assert!(deb_field(&deb, "Depends").contains("python3.11"));
    let _lock = dpkg_lock();
    purge_if_installed("demosite");
    run(Command::new("dpkg").arg("-i").arg(&deb));
    common::serve_demosite(tmp.path());
    run(Command::new("dpkg").args(["--purge", "demosite"]));
}
