//! debian-example cross-built for arm64 (`dpkg-buildpackage -a arm64` on this amd64 machine) runs:
//! in an arm64 bookworm tree from the Debian archive, under qemu-user-static through binfmt_misc,
//! the package installs with apt (its Depends from the archive), demosite starts as its unit starts
//! it and serves its page to this machine, and `dpkg --purge` leaves nothing of it.
//!
//! Opt in with `DH_RUSTVENV_ARM64_TESTS=1`, as root: the tests install qemu-user-static,
//! binfmt-support and mmdebstrap, mount binfmt_misc and enable the qemu-aarch64 handler when the
//! machine has not, add the arm64 architecture to dpkg for the cross build (with
//! crossbuild-essential-arm64 and libc6:arm64), and take the trees from the Debian archive once
//! (`~/.cache/dh-rustvenv-tests/bookworm-<arch>-apt.tar.zst`, kept for later runs):
//!
//! ```sh
//! DH_RUSTVENV_ARM64_TESTS=1 cargo test --test emulated -- --nocapture --test-threads=1
//! ```
//!
//! `DH_RUSTVENV_ARM64_DEB=<demosite_*_arm64.deb>` makes the last test check that package instead of
//! cross-building one (for example one built natively under emulation by `bench/cross --keep`).
//!
//! Two of the tests check the harness itself, with packages that need no cross build: python3 from
//! the arm64 archive runs in the emulated tree, and debian-example built natively serves and purges
//! in an amd64 tree through the same steps.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::arm64::{
    RELEASE, ServiceUnit, Tree, binfmt_ready, cross_build_example, elf_files_not_for, elf_machine,
    purge_demosite_to_nothing, serve_installed_demosite,
};
use common::{build_copy, deb_field, run, scratch};

#[test]
fn demosite_unit_is_read_as_systemd_reads_it() {
    let text =
        fs::read_to_string(common::repo().join("debian-example/debian/demosite.service")).unwrap();
    let unit = ServiceUnit::parse(&text);
    assert_eq!(
        unit.exec_start,
        [
            "/opt/venvs/demosite/bin/demosite",
            "serve",
            "--config",
            "/etc/demosite/demosite.conf"
        ]
    );
    assert_eq!(unit.user.as_deref(), Some("demosite"));
    assert_eq!(unit.group.as_deref(), Some("demosite"));
    assert_eq!(unit.config_file(), Some("/etc/demosite/demosite.conf"));
    let argv = unit.argv("/nonexistent");
    assert_eq!(
        argv[..8],
        [
            "runuser", "-u", "demosite", "-g", "demosite", "--", "env", "-i"
        ]
    );
    assert!(argv.contains(&"HOME=/nonexistent".to_owned()));
    assert!(argv.ends_with(&unit.exec_start));

    let other = ServiceUnit::parse(
        "[Unit]\nDescription=x\n# User= here is not the service's\n[Service]\n\
         Environment=A=1 \"B=two words\"\nWorkingDirectory=/srv\nExecStart=/usr/bin/x --flag\n\
         [Install]\nWantedBy=multi-user.target\n",
    );
    assert_eq!(other.user, None);
    assert_eq!(other.working_directory.as_deref(), Some("/srv"));
    assert_eq!(
        other.environment,
        [("A".into(), "1".into()), ("B".into(), "two words".into())]
    );
    assert_eq!(
        other.argv("/root")[..3],
        [
            "env",
            "-i",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    );
}

#[test]
#[cfg_attr(
    not(arm64_tests),
    ignore = "needs qemu-user-static, binfmt_misc and an arm64 tree from the Debian archive: run with DH_RUSTVENV_ARM64_TESTS=1"
)]
fn arm64_tree_runs_python_from_the_archive_under_emulation() {
    let entry = binfmt_ready();
    eprintln!("binfmt_misc qemu-aarch64:\n{entry}");
    let mut tree = Tree::new(RELEASE, "arm64");
    assert_eq!(tree.output(&["dpkg", "--print-architecture"]), "arm64");
    assert_eq!(tree.machine(), "aarch64");
    tree.apt_install(&["python3-minimal"]);
    assert_eq!(
        elf_machine(&tree.root().join("usr/bin/python3.11")).as_deref(),
        Some("AArch64")
    );
    let started = Instant::now();
    let machine = tree.output(&[
        "python3",
        "-c",
        "import platform; print(platform.machine())",
    ]);
    eprintln!(
        "emulated: python3 -c platform.machine() printed {machine} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(machine, "aarch64");
    tree.purge("python3-minimal");
    assert!(tree.processes().is_empty());
}

#[test]
#[cfg_attr(
    not(arm64_tests),
    ignore = "needs a tree from the Debian archive and the network for apt: run with DH_RUSTVENV_ARM64_TESTS=1"
)]
fn harness_serves_and_purges_a_native_build_in_an_amd64_tree() {
    let tmp = scratch("emulated-native-");
    let debs = build_copy(
        &common::repo().join("debian-example"),
        &tmp.path().join("build"),
        "demosite-1.0.0",
    );
    let deb = &debs
        .iter()
        .find(|(name, _)| name == "demosite")
        .expect("a demosite .deb")
        .1;
    let mut tree = Tree::new(RELEASE, "amd64");
    tree.install_deb(deb);
    let served =
        serve_installed_demosite(&tree, "Hello from the amd64 tree", Duration::from_secs(60));
    assert_eq!(served.machine, "x86_64");
    assert!(
        served.page.contains("Served by Python 3.11"),
        "{}",
        served.page
    );
    eprintln!(
        "native: first answer after {:.1} s; executables {:?}",
        served.first_answer_seconds, served.executables
    );
    purge_demosite_to_nothing(&tree);
}

#[test]
#[cfg_attr(
    not(arm64_tests),
    ignore = "needs crossbuild-essential-arm64, qemu-user-static, binfmt_misc and an arm64 tree from the Debian archive: run with DH_RUSTVENV_ARM64_TESTS=1"
)]
fn cross_built_example_serves_in_emulated_arm64_bookworm_and_purges_to_nothing() {
    binfmt_ready();
    let tmp = scratch("emulated-cross-");
    let started = Instant::now();
    // A package built another way (natively under emulation, say: `bench/cross --keep`) can be
    // checked instead of a cross build.
    let (deb, made) = if let Some(given) = std::env::var_os("DH_RUSTVENV_ARM64_DEB") {
        (PathBuf::from(given), "given".to_owned())
    } else {
        let (output, debs) = cross_build_example(&tmp.path().join("build"));
        assert!(
            output.status.success(),
            "dpkg-buildpackage -a arm64 failed:\n{}",
            tail(&String::from_utf8_lossy(&output.stderr), 40)
        );
        let deb = debs
            .iter()
            .find(|(name, _)| name == "demosite")
            .map(|(_, deb)| deb.clone())
            .expect("dpkg-buildpackage -a arm64 wrote demosite's .deb");
        (
            deb,
            format!("cross-built in {:.0} s", started.elapsed().as_secs_f64()),
        )
    };
    assert_eq!(deb_field(&deb, "Architecture"), "arm64");
    let unpacked = tmp.path().join("unpacked");
    run(std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked));
    let (elf_files, wrong) = elf_files_not_for(&unpacked, "AArch64");
    assert!(elf_files > 0, "no ELF file in {}", deb.display());
    assert!(wrong.is_empty(), "ELF files not for arm64: {wrong:#?}");

    let mut tree = Tree::new(RELEASE, "arm64");
    let installing = Instant::now();
    tree.install_deb(&deb);
    let install_seconds = installing.elapsed().as_secs_f64();
    let served = serve_installed_demosite(
        &tree,
        "Hello from the emulated arm64 tree",
        Duration::from_secs(300),
    );
    assert_eq!(served.machine, "aarch64");
    assert!(
        served.page.contains("Served by Python 3.11"),
        "{}",
        served.page
    );
    // Under emulation the service's processes are qemu's, run by binfmt_misc.
    assert!(
        served
            .executables
            .iter()
            .any(|e| e.to_string_lossy().contains("qemu-aarch64")),
        "{:?}",
        served.executables
    );
    purge_demosite_to_nothing(&tree);
    eprintln!(
        "emulated: {}: {made}, {elf_files} ELF files all AArch64, \
         apt-get install {install_seconds:.0} s, first answer after {:.1} s under qemu, purged to nothing",
        deb.file_name().unwrap().to_string_lossy(),
        served.first_answer_seconds
    );
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
