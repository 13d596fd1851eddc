//! sbuild cross-builds debian-example for arm64 (`sbuild --host=arm64`) in unshare mode, offline,
//! from the amd64 bookworm chroot (sbuild adds the arm64 architecture to it and installs the cross
//! toolchain), with dh-rustvenv fed into the chroot as the .deb this repository builds, as
//! tests/sbuild.rs builds it natively. The demosite .deb must be for arm64: its Architecture, every
//! ELF file in it AArch64, and no file naming the directory it was built in.
//!
//! Opt in with `DH_RUSTVENV_SBUILD_TESTS=1`, as the other sbuild tests (as root: sbuild, mmdebstrap
//! and uidmap are installed, root gets subordinate ids, and the chroot tarball is made once, in
//! `~/.cache/sbuild/bookworm-amd64.tar.zst`):
//!
//! ```sh
//! DH_RUSTVENV_SBUILD_TESTS=1 cargo test --test sbuild_cross -- --nocapture
//! ```

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::arm64::elf_files_not_for;
use common::{deb_field, files_naming, prepare_sbuild, run, run_unchecked, scratch};

/// The directory sbuild built in, as its log names it for log filtering (`I: NOTICE: Log filtering
/// will replace 'build/demosite-XXXX' with '<<BUILDDIR>>'`; `«BUILDDIR»` in other sbuild
/// releases), with its leading slash.
fn build_dir_of(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let rest = line.split("Log filtering will replace '").nth(1)?;
        let (path, with) = rest.split_once("' with '")?;
        (with.starts_with("<<BUILDDIR>>") || with.starts_with("«BUILDDIR»"))
            .then(|| format!("/{}", path.trim_start_matches('/')))
    })
}

#[test]
fn build_dir_is_read_from_sbuilds_log_filtering_notice() {
    // As sbuild 0.85 (Debian 12) writes it.
    let log = "I: NOTICE: Log filtering will replace 'build/demosite-GTSz1p/resolver-KdMIwd' with '<<RESOLVERDIR>>'\n\
               I: NOTICE: Log filtering will replace 'build/demosite-GTSz1p/demosite-1.0.0' with '<<PKGBUILDDIR>>'\n\
               I: NOTICE: Log filtering will replace 'build/demosite-GTSz1p' with '<<BUILDDIR>>'\n";
    assert_eq!(build_dir_of(log).as_deref(), Some("/build/demosite-GTSz1p"));
    let later = "I: NOTICE: Log filtering will replace 'build/demosite-a1b2C3' with '«BUILDDIR»'\n";
    assert_eq!(
        build_dir_of(later).as_deref(),
        Some("/build/demosite-a1b2C3")
    );
    assert_eq!(build_dir_of("no notice\n"), None);
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The lines of an sbuild log that say why it failed before the build (apt's unmet dependencies,
/// its errors), which come long before the log's end, each once.
fn why_failed(log: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in log.lines() {
        let telling = [
            "unmet dependencies",
            "is not installable",
            "is not going to be installed",
        ]
        .iter()
        .any(|needle| line.contains(needle))
            || line.starts_with("E: ");
        if telling && !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.join("\n")
}

/// The file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn file_in(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild and a chroot from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn sbuild_cross_builds_debian_example_for_arm64_offline() {
    prepare_sbuild("bookworm");
    let tmp = scratch("sbuild-cross-");
    let tools = common::build_tool_packages(tmp.path());
    let tool = common::tool_deb(&tools).expect("dpkg-buildpackage wrote dh-rustvenv's .deb");
    let source = tmp.path().join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&source));
    let started = std::time::Instant::now();
    let output = run_unchecked(
        Command::new("sbuild")
            .args([
                "--chroot-mode=unshare",
                "-d",
                "bookworm",
                // The amd64 chroot; sbuild adds arm64 to it and installs crossbuild-essential-arm64
                // and the build dependencies for the host architecture.
                "--host=arm64",
                "--no-run-lintian",
                "--no-run-autopkgtest",
                "--no-run-piuparts",
                // The copy is pristine, and the host need not have the add-on that
                // `debian/rules clean` would load.
                "--no-clean-source",
            ])
            .arg(format!("--extra-package={}", tool.display()))
            .arg(".")
            .current_dir(&source),
    );
    let seconds = started.elapsed().as_secs_f64();
    let log = file_in(tmp.path(), "demosite_", ".build")
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_else(|| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sbuild-cross-arm64-demosite.build");
    fs::write(&kept, &log).unwrap();
    assert!(
        output.status.success() && log.contains("Status: successful"),
        "sbuild --host=arm64 failed after {seconds:.0} s; see {}; its last lines:\n{}\n\
         why, from earlier in the log:\n{}",
        kept.display(),
        tail(&log, 40),
        why_failed(&log)
    );
    assert!(
        log.contains("dh_rustvenv"),
        "dh_rustvenv did not run; see {}",
        kept.display()
    );

    let deb = file_in(tmp.path(), "demosite_", "_arm64.deb").unwrap_or_else(|| {
        panic!(
            "sbuild wrote no demosite_*_arm64.deb; see {}",
            kept.display()
        )
    });
    assert_eq!(deb_field(&deb, "Architecture"), "arm64");
    let unpacked = tmp.path().join("unpacked");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked));
    let (elf_files, wrong) = elf_files_not_for(&unpacked, "AArch64");
    assert!(elf_files > 0, "no ELF file in {}", deb.display());
    assert!(wrong.is_empty(), "ELF files not for arm64: {wrong:#?}");
    let build_dir = build_dir_of(&log)
        .unwrap_or_else(|| panic!("no build directory in the log; see {}", kept.display()));
    let naming = files_naming(&unpacked, &build_dir);
    assert!(
        naming.is_empty(),
        "files naming the build directory {build_dir}: {naming:#?}"
    );
    let build_time = log
        .lines()
        .find_map(|l| l.strip_prefix("Build-Time: "))
        .unwrap_or("?")
        .trim();
    eprintln!(
        "sbuild --host=arm64: {} in {seconds:.0} s (Build-Time {build_time} s), {elf_files} ELF files all AArch64, \
         none naming {build_dir}; Depends: {}",
        deb.file_name().unwrap().to_string_lossy(),
        deb_field(&deb, "Depends")
    );
}
