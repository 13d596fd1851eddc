//! What becomes of the commands dh_rustvenv runs when dh_rustvenv is stopped while pip builds: a
//! kill of the build's process group, a SIGKILL of dh_rustvenv alone, a SIGTERM of dh_rustvenv alone.
//! Each of those tests runs the real dh_rustvenv on a source package whose project build blocks, and
//! looks in /proc for what is left. Then: what a run refuses or warns about before it starts any
//! process, the sequence add-on's `-X` for the ELF tools, and the maintainer scripts of an installed
//! package run by dpkg with the admin's Python settings.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{SourcePackage, run, scratch};

/// The processes (pid, command line) whose command line or working directory names `dir`.
fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    common::processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(&needle) || p.cwd.starts_with(dir))
        .map(|p| (p.pid, p.cmdline))
        .collect()
}

/// The processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    common::processes()
        .into_iter()
        .filter(|p| p.ppid == parent)
        .map(|p| p.pid)
        .collect()
}

/// Whether the process `pid` has ended: gone, or a zombie its parent has not reaped yet.
fn has_ended(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Kills whatever is left under `dir`, so that a failed test leaves no sleeping build behind.
fn kill_leftovers(dir: &Path) {
    for (pid, _) in processes_under(dir) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

/// A source package whose project build blocks, after setuptools wrote src/fixtureapp.egg-info, in a
/// build backend that has started a process of its own (a compiler, say): pip, the backend and a
/// grandchild are running when the test stops dh_rustvenv.
fn blocking_package(parent: &Path, name: &str) -> SourcePackage {
    let source = SourcePackage::new(parent, name);
    source.write(
        "setup.py",
        "import subprocess\nimport sys\nimport time\n\nfrom setuptools import setup\n\n\
         if \"bdist_wheel\" in sys.argv:\n    subprocess.Popen([\"sleep\", \"600\"])\n    time.sleep(600)\nsetup()\n",
    );
    source
}

/// Starts dh_rustvenv on `source` (in a process group of its own when `own_group`, as a build under
/// sbuild or a CI job is) and waits until the project's build blocks.
fn start_until_building(source: &SourcePackage, own_group: bool) -> Child {
    let mut command = source.dh_rustvenv();
    command
        .args(source.offline_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if own_group {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let mut child = command.spawn().unwrap();
    let egg_info = source.dir.join("src/fixtureapp.egg-info");
    let deadline = Instant::now() + Duration::from_secs(300);
    let building = || {
        egg_info.exists()
            && processes_under(&source.dir)
                .iter()
                .any(|(_, c)| c.starts_with("sleep 600"))
    };
    while !building() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr);
            panic!("dh_rustvenv ended ({status}) before the project's build started:\n{stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "the project's build never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
        for entry in fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
        {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            out.insert(entry.path(), (meta.len(), meta.modified().ok()));
            if meta.is_dir() {
                walk(&entry.path(), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// Waits up to `seconds` for every process under `dir` to end; returns those still running.
fn wait_until_none_under(dir: &Path, seconds: u64) -> Vec<(u32, String)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let left: Vec<(u32, String)> = processes_under(dir)
            .into_iter()
            .filter(|(pid, _)| !has_ended(*pid))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_kill_of_the_builds_process_group_ends_pip_and_what_it_started() {
    let tmp = scratch("processes-group-");
    let source = blocking_package(tmp.path(), "rvgroupkill");
    let mut child = start_until_building(&source, true);
    // What a time-out does: SIGKILL to the whole process group of the build.
    run(Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]));
    let _ = child.wait();
    let left = wait_until_none_under(tmp.path(), 10);
    kill_leftovers(tmp.path());
    assert!(
        left.is_empty(),
        "still running after the build's group was killed: {left:?}"
    );
    // Nothing goes on writing into the package build directory.
    let tmpdir = source.dir.join("debian/rvgroupkill");
    let before = listing(&tmpdir);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(listing(&tmpdir), before, "debian/rvgroupkill changed");
}

#[test]
fn a_sigkill_of_dh_rustvenv_alone_ends_the_command_it_was_running() {
    let tmp = scratch("processes-alone-");
    let source = blocking_package(tmp.path(), "rvalonekill");
    let mut child = start_until_building(&source, false);
    let commands = children_of(child.id());
    assert!(!commands.is_empty(), "dh_rustvenv runs no command");
    // What the OOM killer does: SIGKILL to dh_rustvenv alone.
    run(Command::new("kill").args(["-KILL", &child.id().to_string()]));
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut running: Vec<u32> = commands.clone();
    while !running.is_empty() && Instant::now() < deadline {
        running.retain(|&pid| !has_ended(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    // pip itself runs in the process dh_rustvenv started (no second process, as `pip --python`
    // would start): nothing of pip is left to install into the venv. What pip started itself (the
    // build backend) has no parent-death signal (prctl(2) gives none to a fork's child): it is not
    // asserted on, and is removed here.
    let pip_left: Vec<(u32, String)> = wait_until_none_under(tmp.path(), 0)
        .into_iter()
        .filter(|(_, line)| line.contains("__pip-runner__") || line.contains(" -m pip "))
        .collect();
    kill_leftovers(tmp.path());
    assert!(
        running.is_empty(),
        "the command dh_rustvenv ran outlived it: {running:?} of {commands:?}"
    );
    assert!(
        pip_left.is_empty(),
        "pip outlived dh_rustvenv: {pip_left:?}"
    );
}

#[test]
fn a_sigterm_of_dh_rustvenv_alone_ends_pip_and_its_descendants_and_cleans_up() {
    let tmp = scratch("processes-term-");
    let source = blocking_package(tmp.path(), "rvaloneterm");
    let child = start_until_building(&source, false);
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let left = wait_until_none_under(tmp.path(), 20);
    kill_leftovers(tmp.path());
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(
        left.is_empty(),
        "still running after dh_rustvenv was interrupted: {left:?}"
    );
    assert!(
        !source.dir.join("debian/rvaloneterm").exists(),
        "the half-built venv is left"
    );
    assert!(!source.dir.join("src/fixtureapp.egg-info").exists());
    assert!(!source.dir.join("build").exists());
}

// What a run refuses or warns about before it starts any command.

/// A source package with one binary package and nothing else, for runs that stop before pip.
fn bare_source(parent: &Path) -> PathBuf {
    let dir = parent.join("bare-1.0");
    fs::create_dir_all(dir.join("debian")).unwrap();
    fs::write(
        dir.join("debian/control"),
        "Source: bare\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: bare\nArchitecture: all\n",
    )
    .unwrap();
    dir
}

/// dh_rustvenv with the tool environment, in `dir`.
fn dh_rustvenv_in(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dh_rustvenv"));
    command.current_dir(dir);
    common::with_tool_env(&mut command);
    command
}

#[test]
fn a_control_character_in_the_install_suffix_or_root_is_refused_naming_it() {
    let tmp = scratch("processes-control-");
    let dir = bare_source(tmp.path());
    let output = common::run_unchecked(
        dh_rustvenv_in(&dir)
            .arg("--no-act")
            .arg("--install-suffix=bare\nx"),
    );
    assert_eq!(output.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "dh_rustvenv: error: --install-suffix holds a control character (U+000A): `bare\\nx`\n"
    );
    let output = common::run_unchecked(
        dh_rustvenv_in(&dir)
            .arg("--no-act")
            .env("DH_RUSTVENV_INSTALL_ROOT", "/opt/venvs\n"),
    );
    assert_eq!(output.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "dh_rustvenv: error: DH_RUSTVENV_INSTALL_ROOT holds a control character (U+000A): \
         `/opt/venvs\\n`\n"
    );
}

#[test]
fn options_without_effect_are_warned_about_once() {
    let tmp = scratch("processes-ineffective-");
    let dir = bare_source(tmp.path());
    fs::create_dir_all(dir.join("debian/wheelhouse")).unwrap();
    let mut command = dh_rustvenv_in(&dir);
    command.args([
        "--no-act",
        "--skip-install",
        "--extras=web",
        "--test-command=make check",
        "--index-url=https://mirror.example/simple",
    ]);
    let output = run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("dh_rustvenv: warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            "dh_rustvenv: warning: --test-command has no effect without --test, which runs it; add \
             --test or remove --test-command",
            "dh_rustvenv: warning: --extras web has no effect with --skip-install, which does not \
             install the source package they are extras of",
            "dh_rustvenv: warning: --index-url has no effect: the install is offline, from the \
             wheelhouse debian/wheelhouse only (--download fills it from the index)",
        ],
        "{stderr}"
    );
}

/// The `-X` options `dh --no-act` shows for dh_strip with the rustvenv add-on and the install root
/// `root`, in a source package with the binary package `demo-one`.
fn strip_exclusions(dir: &Path, root: &str) -> Vec<String> {
    let mut command = Command::new("dh");
    command
        .args(["binary", "--with", "rustvenv", "--no-act"])
        .current_dir(dir)
        .env("PERL5LIB", common::repo().join("debhelper"))
        .env("DH_RUSTVENV_INSTALL_ROOT", root)
        .env_remove("DH_VIRTUALENV_INSTALL_ROOT")
        .env_remove("DH_OPTIONS")
        .env_remove("DH_INTERNAL_OPTIONS");
    let output = run(&mut command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("dh_strip -a"))
        .unwrap_or_else(|| panic!("no dh_strip in\n{stdout}"));
    line.split_whitespace()
        .filter(|w| w.starts_with("-X"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_sequence_excludes_the_install_root_as_dh_rustvenv_normalizes_it() {
    let tmp = scratch("processes-exclusions-");
    let dir = tmp.path().join("demo-1.0");
    fs::create_dir_all(dir.join("debian")).unwrap();
    fs::write(
        dir.join("debian/control"),
        "Source: demo\nBuild-Depends: debhelper-compat (= 13)\n\n\
         Package: demo-one\nArchitecture: any\nDescription: x\n x\n",
    )
    .unwrap();
    fs::write(
        dir.join("debian/changelog"),
        "demo (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- dh-rustvenv tests <tests@example.org>  \
         Sat, 21 Nov 2026 00:00:00 +0000\n",
    )
    .unwrap();
    for (root, expected) in [
        ("/opt//venvs/", &["-Xopt/venvs/"][..]),
        ("/opt/./venvs/.", &["-Xopt/venvs/"]),
        ("/usr//lib/", &["-Xusr/lib/demo-one/"]),
        // dh_rustvenv resolves .. without looking at the file system; so must the -X.
        ("/usr/lib/x/..", &["-Xusr/lib/demo-one/"]),
        (
            "/usr/share/python/../../share/python",
            &["-Xusr/share/python/"],
        ),
        // dh_rustvenv refuses /, and -X/ would exclude the whole package.
        ("/", &[]),
        ("/opt/..", &[]),
    ] {
        assert_eq!(
            strip_exclusions(&dir, root),
            expected,
            "install root {root}"
        );
    }
}

#[test]
fn an_installed_package_compiles_in_its_venv_only_and_removal_keeps_the_admins_directory() {
    let tmp = scratch("processes-bytecode-");
    let source = SourcePackage::new(tmp.path(), "rvbytecode");
    let debs = source.build(&["-b"]);
    let deb = &debs
        .iter()
        .find(|(name, _)| name == "rvbytecode")
        .unwrap()
        .1;
    let venv = Path::new("/opt/venvs/rvbytecode");
    let prefix = tmp.path().join("pycache-prefix");
    let _lock = common::dpkg_lock();
    common::purge_if_installed("rvbytecode");
    // The admin's settings reach dpkg's maintainer scripts.
    run(Command::new("dpkg")
        .arg("-i")
        .arg(deb)
        .env("PYTHONPYCACHEPREFIX", &prefix)
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let cache = venv.join("lib/python3.11/site-packages/fixtureapp/__pycache__");
    let compiled_in_venv = cache.is_dir();
    let outside = prefix.exists();
    let admins = venv.join("local");
    fs::create_dir_all(&admins).unwrap();
    let removed = common::run_unchecked(Command::new("dpkg").args(["--remove", "rvbytecode"]));
    let admins_kept = admins.is_dir();
    let package_gone = !venv.join("lib").exists() && !venv.join("bin").exists();
    let _ = fs::remove_dir_all(venv);
    common::purge_if_installed("rvbytecode");
    assert!(removed.status.success(), "dpkg --remove failed");
    assert!(compiled_in_venv, "postinst did not byte-compile the venv");
    assert!(!outside, "postinst wrote bytecode to PYTHONPYCACHEPREFIX");
    assert!(admins_kept, "removal deleted the admin's empty directory");
    assert!(package_gone, "removal left the package's directories");
}
