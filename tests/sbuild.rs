//! sbuild in unshare mode (no network during the build) builds dh-rustvenv's own source package for
//! Debian 12 (vendored crates) and Debian 13 (the archive's crates), and builds debian-example from its
//! vendored wheelhouse, with dh-rustvenv installed into the chroot from the .deb this repository
//! builds; the result installs and serves.
//!
//! Opt in with `DH_RUSTVENV_SBUILD_TESTS=1`: the tests install sbuild, mmdebstrap and uidmap, give root
//! subordinate ids, and make the chroot tarballs from the Debian archive once
//! (`~/.cache/sbuild/<release>-amd64.tar.zst`, kept for later runs); making the source package needs
//! crates.io once (cargo vendor).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{deb_field, dpkg_lock, prepare_sbuild, purge_if_installed, run, scratch};

/// Builds dh-rustvenv_<version>_<arch>.deb from a copy of this repository in `dir`.
fn build_dh_rustvenv(dir: &Path) -> PathBuf {
    common::tool_deb(&common::build_tool_packages(dir))
        .expect("dpkg-buildpackage wrote dh-rustvenv's .deb")
        .clone()
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild and a chroot from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn sbuild_builds_debian_example_offline() {
    prepare_sbuild("bookworm");
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

/// Runs `dh_rustvenv --version` as the dh-rustvenv .deb installs it, inside an unpacked copy of
/// `release`'s chroot tarball (the program links against that release's C library, which may be
/// newer than this machine's); returns its output.
fn version_in_chroot(release: &str, debs: &[PathBuf]) -> String {
    let tarball = prepare_sbuild(release);
    let root = scratch(&format!("chroot-{release}-"));
    run(Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(root.path()));
    for deb in debs {
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(root.path()));
    }
    for name in ["dh_rustvenv", "dh_rustvenv_finish"] {
        assert!(
            root.path().join("usr/bin").join(name).exists(),
            "{release}: the .debs install no /usr/bin/{name}"
        );
    }
    let output = run(Command::new("/usr/sbin/chroot")
        .arg(root.path())
        .args(["/usr/bin/dh_rustvenv", "--version"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin"));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild, chroots from the Debian archive and crates.io once: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn sbuild_builds_dh_rustvenv_for_bookworm_and_trixie() {
    for release in ["bookworm", "trixie"] {
        let debs = common::sbuild_tool_packages(release);
        let tool = common::tool_deb(&debs)
            .unwrap_or_else(|| panic!("{release}: no dh-rustvenv .deb in {debs:?}"));
        let depends = deb_field(tool, "Depends");
        eprintln!("{release}: {} Depends: {depends}", tool.display());
        assert!(depends.contains("libc6"), "{release}: {depends}");
        assert!(depends.contains("python3-venv"), "{release}: {depends}");
        let version = version_in_chroot(release, &debs);
        assert_eq!(
            version,
            format!("dh_rustvenv {}", env!("CARGO_PKG_VERSION")),
            "{release}"
        );
    }
}
