//! One source tree, several Debian releases: debian-example (demosite) is built unchanged by sbuild
//! for bookworm (python3.11) and trixie (python3.13) and by pbuilder for bookworm, each build without
//! network; the demosite package then installs in a chroot of its release, serves its page to this
//! machine on 127.0.0.1 the way its systemd unit runs it, and purges; on trixie, trixie's lintian
//! finds nothing in it beyond the per-file overrides dh-rustvenv writes, each with its reason.
//!
//! Opt in with `DH_RUSTVENV_SBUILD_TESTS=1` (as root; the tests install sbuild, mmdebstrap, uidmap
//! and pbuilder, and take chroots from the Debian archive once, keeping them in `~/.cache`):
//!
//! ```sh
//! DH_RUSTVENV_SBUILD_TESTS=1 cargo test --test release -- --nocapture
//! ```
//!
//! The dh-rustvenv packages come from [`common::release_tool_packages`]. Each test prints one
//! `release:` line with what it measured: sbuild's Build-Time, the Depends line, lintian's counts.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{
    cache_dir, deb_field, debs_in, install_host_tools, mmdebstrap_once, prepare_sbuild, run,
    run_unchecked, scratch, serve_demosite_with,
};

/// Held while a package is built, so that two builds do not share the machine's two cores and the
/// times measured mean something.
static BUILDING: Mutex<()> = Mutex::new(());

/// The Python interpreter package each release's venv must depend on.
fn interpreter_of(release: &str) -> &'static str {
    match release {
        "bookworm" => "python3.11",
        "trixie" => "python3.13",
        other => panic!("no interpreter known for {other}"),
    }
}

/// A copy of debian-example as `<dir>/demosite-1.0.0`.
fn copy_example(dir: &Path) -> PathBuf {
    let source = dir.join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&source));
    source
}

/// The `.deb` of `package` in `dir`.
fn deb_of(dir: &Path, package: &str) -> PathBuf {
    debs_in(dir)
        .into_iter()
        .find(|(name, _)| name == package)
        .map(|(_, deb)| deb)
        .unwrap_or_else(|| panic!("no {package} .deb in {}", dir.display()))
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What one sbuild run gave: the demosite .deb and the Build-Time sbuild reported, in seconds.
struct Built {
    deb: PathBuf,
    build_time: String,
}

/// Builds debian-example with sbuild for `release` in `dir`, with the release's dh-rustvenv .debs as
/// extra packages; keeps the log in cargo's target directory.
fn sbuild_example(release: &str, dir: &Path) -> Built {
    prepare_sbuild(release);
    let tools = common::release_tool_packages(release);
    let source = copy_example(dir);
    let mut command = Command::new("sbuild");
    command
        .args([
            "--chroot-mode=unshare",
            "-d",
            release,
            "--no-run-lintian",
            "--no-run-autopkgtest",
            "--no-run-piuparts",
            // The host need not have the add-on that `debian/rules clean` would load.
            "--no-clean-source",
        ])
        .args(
            tools
                .iter()
                .map(|deb| format!("--extra-package={}", deb.display())),
        )
        .arg(".")
        .current_dir(&source);
    let output = {
        let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        run_unchecked(&mut command)
    };
    let log = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "build"))
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_else(|| String::from_utf8_lossy(&output.stdout).into_owned());
    let kept =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sbuild-{release}-demosite.build"));
    fs::write(&kept, &log).unwrap();
    assert!(
        output.status.success() && log.contains("Status: successful"),
        "sbuild for {release} failed; see {}:\n{}",
        kept.display(),
        tail(&log, 40)
    );
    assert!(
        log.contains("dh_rustvenv"),
        "dh_rustvenv did not run; see {}",
        kept.display()
    );
    let build_time = log
        .lines()
        .find_map(|l| l.strip_prefix("Build-Time: "))
        .unwrap_or("?")
        .trim()
        .to_owned();
    Built {
        deb: deb_of(dir, "demosite"),
        build_time,
    }
}

/// A tree of `release` to install and run the built package in, extracted into `dir` from
/// `~/.cache/dh-rustvenv-tests/<release>-runtime.tar.zst` (mmdebstrap, variant apt, with python3 and
/// adduser, and lintian on trixie; made once).
fn runtime_tree(release: &str, dir: &Path) -> PathBuf {
    install_host_tools(&["mmdebstrap", "zstd"]);
    let tarball = cache_dir("dh-rustvenv-tests").join(format!("{release}-runtime.tar.zst"));
    let include = if release == "trixie" {
        "--include=python3,adduser,lintian"
    } else {
        "--include=python3,adduser"
    };
    mmdebstrap_once(&tarball, &["--variant=apt", include, release]);
    let root = dir.join(format!("{release}-root"));
    fs::create_dir_all(&root).unwrap();
    run(Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root));
    root
}

/// `args` run as root in the tree `root` (chroot), in a mount namespace of its own with this
/// machine's /dev and a /proc, which end with the command; the network is this machine's, so a
/// server started there answers on 127.0.0.1 here.
fn in_tree(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "--fork", "--"])
        .args([
            "sh",
            "-c",
            "mount --rbind /dev \"$0/dev\" && mount -t proc proc \"$0/proc\" && exec chroot \"$0\" \"$@\"",
        ])
        .arg(root)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8");
    command
}

/// Installs `deb` in the tree `root` with dpkg, checks that demosite serves its page, run as its
/// unit runs it (as the user demosite) by the interpreter `python`, then purges it.
fn install_and_serve(root: &Path, deb: &Path, python: &str) {
    fs::copy(deb, root.join("tmp/demosite.deb")).unwrap();
    run(&mut in_tree(root, &["dpkg", "-i", "/tmp/demosite.deb"]));
    let page = serve_demosite_with(
        &root.join("etc/demosite/release-test.conf"),
        Path::new("/etc/demosite/release-test.conf"),
        "Hello from the release test",
        Duration::from_secs(60),
        |argv| in_tree(root, argv),
    );
    let version = python.trim_start_matches("python");
    assert!(
        page.contains(&format!("Served by Python {version}.")),
        "not served by {python}: {page}"
    );
    run(&mut in_tree(root, &["dpkg", "--purge", "demosite"]));
    assert!(!root.join("opt/venvs/demosite").exists());
}

/// lintian's tags about the .deb in the tree (its own lintian): errors, warnings, and the overrides
/// that silenced others.
struct LintianCounts {
    errors: usize,
    warnings: usize,
    overridden: usize,
}

fn lintian_in_tree(root: &Path, deb: &Path) -> LintianCounts {
    fs::copy(deb, root.join("tmp/demosite-lintian.deb")).unwrap();
    let output = run_unchecked(&mut in_tree(
        root,
        &[
            "lintian",
            "--tag-display-limit",
            "0",
            "--show-overrides",
            "/tmp/demosite-lintian.deb",
        ],
    ));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!(
        "lintian ({}):\n{text}{}",
        String::from_utf8_lossy(&run(&mut in_tree(root, &["lintian", "--version"])).stdout).trim(),
        String::from_utf8_lossy(&output.stderr)
    );
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    LintianCounts {
        errors: count("E: "),
        warnings: count("W: "),
        overridden: count("O: "),
    }
}

/// Every override dh-rustvenv shipped in the package names the files it is about (a `[path]` pointer,
/// a glob for the venv-wide ones) and comes under a comment that gives its reason (one comment for a
/// group, up to the next blank line). Returns how many there are.
fn assert_overrides_name_files_and_reasons(deb: &Path) -> usize {
    let output = run(Command::new("sh")
        .arg("-c")
        .arg("dpkg-deb --fsys-tarfile \"$0\" | tar -xOf - ./usr/share/lintian/overrides/demosite")
        .arg(deb));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("lintian overrides shipped in {}:\n{text}", deb.display());
    let mut reason: Option<&str> = None;
    let mut overrides = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            reason = None;
        } else if let Some(comment) = line.strip_prefix('#') {
            reason = Some(comment.trim());
        } else {
            overrides += 1;
            assert!(
                line.contains(" [") && line.ends_with(']'),
                "override without a file: {line}"
            );
            assert!(
                reason.is_some_and(|r| !r.is_empty()),
                "override without a reason above it: {line}"
            );
        }
    }
    assert!(overrides > 0, "no lintian overrides in {}", deb.display());
    overrides
}

/// sbuild for `release`, then installation, service and (on trixie) lintian in a tree of the release.
fn release_test(release: &str) {
    let tmp = scratch(&format!("release-{release}-"));
    let built = sbuild_example(release, tmp.path());
    let depends = deb_field(&built.deb, "Depends");
    let python = interpreter_of(release);
    assert!(
        depends.split(", ").any(|d| d.starts_with(python)),
        "{release}: Depends names no {python}: {depends}"
    );
    let root = runtime_tree(release, tmp.path());
    install_and_serve(&root, &built.deb, python);
    let lintian = if release == "trixie" {
        let shipped = assert_overrides_name_files_and_reasons(&built.deb);
        let counts = lintian_in_tree(&root, &built.deb);
        assert_eq!(
            (counts.errors, counts.warnings),
            (0, 0),
            "trixie's lintian complains about {}",
            built.deb.display()
        );
        format!(
            ", lintian: {} errors, {} warnings, {} tags overridden by the {shipped} overrides shipped",
            counts.errors, counts.warnings, counts.overridden
        )
    } else {
        String::new()
    };
    eprintln!(
        "release: {release}: sbuild Build-Time {} s, {} Depends: {depends}{lintian}; installed, served, purged",
        built.build_time,
        built.deb.file_name().unwrap().to_string_lossy()
    );
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild and chroots from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn bookworm_sbuild_builds_debian_example_which_serves_in_bookworm() {
    release_test("bookworm");
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs sbuild and chroots from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn trixie_sbuild_builds_debian_example_which_serves_in_trixie_and_is_lintian_clean() {
    release_test("trixie");
}

/// pbuilder's base for `release`, `~/.cache/dh-rustvenv-tests/pbuilder/<release>-base.tgz`, made
/// once with `pbuilder create`.
fn pbuilder_base(release: &str) -> PathBuf {
    install_host_tools(&["pbuilder", "apt-utils"]);
    let dir = cache_dir("dh-rustvenv-tests/pbuilder");
    let base = dir.join(format!("{release}-base.tgz"));
    if !base.exists() {
        let partial = dir.join(format!("{release}-base.{}.partial.tgz", std::process::id()));
        let started = Instant::now();
        let output = run_unchecked(
            Command::new("pbuilder")
                .args(["create", "--distribution", release])
                .args(["--mirror", "http://deb.debian.org/debian"])
                .arg("--basetgz")
                .arg(&partial),
        );
        assert!(
            output.status.success(),
            "pbuilder create failed:\n{}",
            tail(&String::from_utf8_lossy(&output.stdout), 40)
        );
        fs::rename(&partial, &base).unwrap();
        eprintln!(
            "made {} in {:.0} s",
            base.display(),
            started.elapsed().as_secs_f64()
        );
    }
    base
}

#[test]
#[cfg_attr(
    not(sbuild_tests),
    ignore = "needs pbuilder and a chroot from the Debian archive: run with DH_RUSTVENV_SBUILD_TESTS=1"
)]
fn bookworm_pbuilder_builds_debian_example_offline() {
    let release = "bookworm";
    let base = pbuilder_base(release);
    let tmp = scratch("pbuilder-");
    // The dh-rustvenv packages as a file: apt repository, bind-mounted into the build chroot; a hook
    // adds it to apt's sources there before the build dependencies are installed.
    let repo = tmp.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    for deb in common::release_tool_packages(release) {
        fs::copy(&deb, repo.join(deb.file_name().unwrap())).unwrap();
    }
    let packages = run(Command::new("apt-ftparchive")
        .args(["packages", "."])
        .current_dir(&repo));
    fs::write(repo.join("Packages"), &packages.stdout).unwrap();
    let hooks = tmp.path().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    let hook = hooks.join("D10dh-rustvenv-repository");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\n# The locally built dh-rustvenv, as an apt repository; only its index is read.\nset -e\n\
             echo 'deb [trusted=yes] file:{repo} ./' > /etc/apt/sources.list.d/dh-rustvenv.list\n\
             apt-get update -o Dir::Etc::SourceList=/etc/apt/sources.list.d/dh-rustvenv.list \
             -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0\n",
            repo = repo.display()
        ),
    )
    .unwrap();
    run(Command::new("chmod").arg("+x").arg(&hook));
    // A source package (.dsc) of debian-example, as pbuilder takes it.
    let source = copy_example(tmp.path());
    run(Command::new("dpkg-source")
        .args(["-b", "demosite-1.0.0"])
        .current_dir(tmp.path()));
    let dsc = tmp.path().join("demosite_1.0.0.dsc");
    let result = tmp.path().join("result");
    fs::create_dir_all(&result).unwrap();
    let (output, seconds) = {
        let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let output = run_unchecked(
            Command::new("pbuilder")
                .arg("build")
                .arg("--basetgz")
                .arg(&base)
                .arg("--buildresult")
                .arg(&result)
                .arg("--bindmounts")
                .arg(&repo)
                .arg("--hookdir")
                .arg(&hooks)
                .arg(&dsc)
                .current_dir(&source),
        );
        (output, started.elapsed().as_secs())
    };
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pbuilder-bookworm-demosite.log");
    fs::write(&kept, &log).unwrap();
    assert!(
        output.status.success(),
        "pbuilder build failed; see {}:\n{}",
        kept.display(),
        tail(&log, 40)
    );
    assert!(log.contains("dh_rustvenv"), "see {}", kept.display());
    // USENETWORK=no, pbuilder's default: the build ran without network.
    assert!(
        log.contains("network access will be disabled during build"),
        "pbuilder built with network; see {}",
        kept.display()
    );
    let deb = deb_of(&result, "demosite");
    let depends = deb_field(&deb, "Depends");
    assert!(depends.contains(interpreter_of(release)), "{depends}");
    eprintln!(
        "release: {release}: pbuilder build in {seconds} s (chroot set-up and build dependencies included), {} Depends: {depends}",
        deb.file_name().unwrap().to_string_lossy()
    );
}
