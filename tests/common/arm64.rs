//! Running arm64 packages on this amd64 machine: qemu-user-static's handler registered with
//! binfmt_misc, an arm64 Debian tree taken from the archive with mmdebstrap (made once, copied for
//! each test), commands run in it, and a service package installed there with apt, started as its
//! systemd unit would start it, asked for its page, stopped and purged, with a check that nothing of
//! it is left.
//!
//! The same tree works for amd64 (no emulation), which lets the harness itself be checked with a
//! natively built package; and a cross build of debian-example for arm64 (`dpkg-buildpackage -a
//! arm64`), with what the host needs for it.
//!
//! Nothing is mounted in this machine's mount namespace: each command runs in a namespace of its
//! own (`unshare --mount`) where /dev and /proc are mounted into the tree, and those mounts end with
//! the last process of that namespace. A test that panics, or is killed, leaves no mount behind,
//! and removing the tree can never reach into this machine's /dev.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{
    cache_dir, describe, dpkg_lock, install_host_tools, mmdebstrap_once, run, run_unchecked,
    scratch, with_tool_env,
};

/// The Debian release the trees and the cross build are for.
pub const RELEASE: &str = "bookworm";

/// binfmt_misc's entry for arm64 executables, written by `update-binfmts`.
const BINFMT_ENTRY: &str = "/proc/sys/fs/binfmt_misc/qemu-aarch64";

/// Makes this machine run arm64 executables through qemu-user-static: installs qemu-user-static and
/// binfmt-support (when missing), mounts binfmt_misc (when `/proc/sys/fs/binfmt_misc/register` is
/// missing, as on a machine without systemd) and enables the qemu-aarch64 handler. Returns the
/// handler's entry as binfmt_misc shows it.
///
/// # Panics
///
/// When the handler is not enabled afterwards, or lacks the `F` flag: without it the interpreter is
/// looked up by its path at each start, which fails inside a chroot that does not have it.
pub fn binfmt_ready() -> String {
    install_host_tools(&["qemu-user-static", "binfmt-support"]);
    if !Path::new("/proc/sys/fs/binfmt_misc/register").exists() {
        run(Command::new("mount").args([
            "-t",
            "binfmt_misc",
            "binfmt_misc",
            "/proc/sys/fs/binfmt_misc",
        ]));
    }
    let entry = fs::read_to_string(BINFMT_ENTRY).unwrap_or_default();
    if !entry.starts_with("enabled") {
        run(Command::new("update-binfmts").args(["--enable", "qemu-aarch64"]));
    }
    let entry = fs::read_to_string(BINFMT_ENTRY)
        .unwrap_or_else(|e| panic!("{BINFMT_ENTRY} after update-binfmts --enable: {e}"));
    assert!(entry.starts_with("enabled"), "{BINFMT_ENTRY}:\n{entry}");
    let flags = entry
        .lines()
        .find_map(|l| l.strip_prefix("flags: "))
        .unwrap_or("");
    assert!(flags.contains('F'), "{BINFMT_ENTRY}:\n{entry}");
    entry
}

/// The tarball of a `release` tree for `arch` to install packages in:
/// `~/.cache/dh-rustvenv-tests/<release>-<arch>-apt.tar.zst`, made once from the Debian archive with
/// `mmdebstrap --variant=apt` (the essential packages and apt, nothing else: what a package needs
/// beyond them, apt takes from the archive when it is installed). For arm64 the maintainer scripts
/// run under emulation, so binfmt_misc is made ready first.
pub fn apt_tree_tarball(release: &str, arch: &str) -> PathBuf {
    install_host_tools(&["mmdebstrap", "zstd"]);
    if arch == "arm64" {
        binfmt_ready();
    }
    let tarball = cache_dir("dh-rustvenv-tests").join(format!("{release}-{arch}-apt.tar.zst"));
    mmdebstrap_once(
        &tarball,
        &[&format!("--arch={arch}"), "--variant=apt", release],
    );
    tarball
}

/// A Debian tree of one architecture, unpacked for one test from [`apt_tree_tarball`] into a
/// scratch directory, removed when dropped (after ending whatever still runs in it).
pub struct Tree {
    // Dropped after `drop` below has ended the processes of the tree.
    dir: tempfile::TempDir,
    root: PathBuf,
    arch: String,
    updated: bool,
}

impl Tree {
    /// Unpacks a fresh copy of the `release` tree for `arch` ("arm64" runs under qemu-user-static,
    /// "amd64" natively), with this machine's /etc/resolv.conf so that apt reaches the archive.
    pub fn new(release: &str, arch: &str) -> Tree {
        let tarball = apt_tree_tarball(release, arch);
        let dir = scratch(&format!("tree-{release}-{arch}-"));
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let started = Instant::now();
        run(Command::new("tar")
            .arg("--zstd")
            .arg("-xf")
            .arg(&tarball)
            .arg("-C")
            .arg(&root));
        eprintln!(
            "unpacked {} in {:.1} s",
            tarball.display(),
            started.elapsed().as_secs_f64()
        );
        let _ = fs::remove_file(root.join("etc/resolv.conf"));
        fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf")).unwrap();
        Tree {
            dir,
            root,
            arch: arch.to_owned(),
            updated: false,
        }
    }

    /// The top of the tree, as this machine sees it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A scratch directory of the test beside the tree, removed with it.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// `args` run as root in the tree (chroot), in a mount namespace of its own that has this
    /// machine's /dev and a /proc of its own, which end with the command. The network is this
    /// machine's, so a server started there answers on 127.0.0.1 here. The environment is a clean
    /// one (PATH, HOME, LANG, DEBIAN_FRONTEND=noninteractive).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "--fork", "--"])
            .args([
                "sh",
                "-c",
                "mount --rbind /dev \"$0/dev\" && mount -t proc proc \"$0/proc\" && exec chroot \"$0\" \"$@\"",
            ])
            .arg(&self.root)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    }

    /// Runs `args` in the tree ([`Tree::command`]); panics with everything about it when it fails.
    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// The standard output of `args` run in the tree, trimmed.
    pub fn output(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.run(args).stdout)
            .trim()
            .to_owned()
    }

    /// Installs `packages` in the tree with apt-get from the Debian archive (apt-get update first,
    /// once per tree). A `./file.deb` argument installs that file, its Depends from the archive.
    pub fn apt_install(&mut self, packages: &[&str]) {
        if !self.updated {
            self.run(&["apt-get", "update", "-q"]);
            self.updated = true;
        }
        let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
        args.extend_from_slice(packages);
        let started = Instant::now();
        self.run(&args);
        eprintln!(
            "{}: apt-get installed {} in {:.0} s",
            self.arch,
            packages.join(" "),
            started.elapsed().as_secs_f64()
        );
    }

    /// Installs the package file `deb` with `apt-get install ./<file>` (copied to the tree's /tmp),
    /// so that its Depends come from the archive, as on a clean machine of that release.
    pub fn install_deb(&mut self, deb: &Path) {
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(deb, self.root.join("tmp").join(&name)).unwrap();
        self.apt_install(&[&format!("/tmp/{name}")]);
    }

    /// `dpkg --purge <package>` in the tree.
    pub fn purge(&self, package: &str) {
        self.run(&["dpkg", "--purge", package]);
    }

    /// The machine (`uname -m` of the tree's own `uname`): `aarch64` under emulation.
    pub fn machine(&self) -> String {
        self.output(&["uname", "-m"])
    }

    /// The processes of this machine that run inside the tree (their root directory is the tree).
    pub fn processes(&self) -> Vec<super::Process> {
        let root = fs::canonicalize(&self.root).unwrap();
        super::processes()
            .into_iter()
            .filter(|p| {
                fs::read_link(format!("/proc/{}/root", p.pid)).is_ok_and(|r| r.starts_with(&root))
            })
            .collect()
    }

    /// Ends (SIGKILL) every process that runs inside the tree and waits until they are gone.
    fn end_processes(&self) {
        for _ in 0..50 {
            let left = self.processes();
            if left.is_empty() {
                return;
            }
            for process in left {
                let _ = Command::new("kill")
                    .args(["-KILL", &process.pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        self.end_processes();
    }
}

/// What a systemd service unit says about starting its service, read from its `[Service]` section
/// (systemd.service(5), systemd.exec(5)): enough to start it the same way without systemd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUnit {
    /// `ExecStart=`, split into words as systemd splits them (quotes, no shell).
    pub exec_start: Vec<String>,
    /// `User=`; root when not set.
    pub user: Option<String>,
    /// `Group=`; the user's primary group when not set.
    pub group: Option<String>,
    /// Every `Environment=` assignment, in order.
    pub environment: Vec<(String, String)>,
    /// `WorkingDirectory=`; `/` when not set.
    pub working_directory: Option<String>,
}

impl ServiceUnit {
    /// Reads the unit's text.
    ///
    /// # Panics
    ///
    /// When there is no `ExecStart=`, or when the unit uses what this reader does not do
    /// (`EnvironmentFile=`, an `ExecStart=` prefix such as `-` or `+`, `$VARIABLE` expansion).
    pub fn parse(text: &str) -> ServiceUnit {
        let mut section = "";
        let mut unit = ServiceUnit {
            exec_start: Vec::new(),
            user: None,
            group: None,
            environment: Vec::new(),
            working_directory: None,
        };
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                section = line;
                continue;
            }
            if section != "[Service]" {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "ExecStart" => {
                    assert!(
                        !value.starts_with(['-', '+', '!', '@', ':']),
                        "ExecStart= with a prefix: {value}"
                    );
                    assert!(!value.contains('$'), "ExecStart= with a variable: {value}");
                    unit.exec_start = shell_words::split(value).unwrap();
                }
                "User" => unit.user = Some(value.to_owned()),
                "Group" => unit.group = Some(value.to_owned()),
                "WorkingDirectory" => unit.working_directory = Some(value.to_owned()),
                "Environment" => {
                    for word in shell_words::split(value).unwrap() {
                        let (name, value) = word.split_once('=').unwrap();
                        unit.environment.push((name.to_owned(), value.to_owned()));
                    }
                }
                "EnvironmentFile" => panic!("EnvironmentFile= is not read here: {value}"),
                _ => {}
            }
        }
        assert!(!unit.exec_start.is_empty(), "no ExecStart= in:\n{text}");
        unit
    }

    /// The argument list that runs the service as the unit would, without systemd: `runuser` to
    /// the unit's user and group, then `env -i` with the environment systemd gives a service (PATH,
    /// LANG, and USER, LOGNAME, HOME for a `User=`) plus the unit's `Environment=`, then the
    /// command. The working directory is the caller's to set (systemd's default is `/`).
    pub fn argv(&self, home: &str) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if let Some(user) = &self.user {
            argv.extend(["runuser".into(), "-u".into(), user.clone()]);
            if let Some(group) = &self.group {
                argv.extend(["-g".into(), group.clone()]);
            }
            argv.push("--".into());
        }
        argv.extend([
            "env".into(),
            "-i".into(),
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "LANG=C.UTF-8".into(),
        ]);
        if let Some(user) = &self.user {
            argv.extend([
                format!("USER={user}"),
                format!("LOGNAME={user}"),
                format!("HOME={home}"),
            ]);
        }
        argv.extend(self.environment.iter().map(|(n, v)| format!("{n}={v}")));
        argv.extend(self.exec_start.iter().cloned());
        argv
    }

    /// The file the command is given with `--config FILE`, if any.
    pub fn config_file(&self) -> Option<&str> {
        self.exec_start
            .iter()
            .position(|w| w == "--config")
            .and_then(|i| self.exec_start.get(i + 1))
            .map(String::as_str)
    }
}

/// What [`serve_installed_demosite`] saw.
pub struct Served {
    /// The page at `/`.
    pub page: String,
    /// `platform.machine()` of the venv's interpreter, run in the tree (`aarch64` under emulation).
    pub machine: String,
    /// How long the first answer took after the start, in seconds.
    pub first_answer_seconds: f64,
    /// The executables of the service's processes as this machine sees them
    /// (`/proc/<pid>/exe`: qemu's under emulation).
    pub executables: Vec<PathBuf>,
}

/// Starts the installed demosite in `tree` as its unit (`/lib/systemd/system/demosite.service` of
/// the package) would: the unit's `ExecStart` as its user and group, with the environment systemd
/// gives it, in the background in a process group of its own, after setting a free port of
/// 127.0.0.1 and `greeting` in the configuration file the command names (as an administrator edits
/// the conffile). Checks that `/` shows the greeting and the venv's path and `/healthz` answers
/// `ok` within `patience`, then ends the service (SIGTERM to its group, as systemd's stop does)
/// and checks that none of its processes is left.
pub fn serve_installed_demosite(tree: &Tree, greeting: &str, patience: Duration) -> Served {
    use std::os::unix::process::CommandExt;
    let unit_path = ["lib/systemd/system", "usr/lib/systemd/system"]
        .iter()
        .map(|d| tree.root().join(d).join("demosite.service"))
        .find(|p| p.exists())
        .expect("the package installs demosite.service");
    let unit = ServiceUnit::parse(&fs::read_to_string(&unit_path).unwrap());
    let config = unit
        .config_file()
        .expect("demosite's ExecStart names its --config file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config_path = tree.root().join(config.trim_start_matches('/'));
    let text = fs::read_to_string(&config_path)
        .unwrap_or_else(|e| panic!("{}: {e}", config_path.display()));
    let edited: String = text
        .lines()
        .map(|line| {
            if line.starts_with("bind =") {
                format!("bind = 127.0.0.1:{port}\n")
            } else if line.starts_with("greeting =") {
                format!("greeting = {greeting}\n")
            } else if line.starts_with("workers =") {
                "workers = 1\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert!(edited.contains(&format!("127.0.0.1:{port}")), "{text}");
    fs::write(&config_path, edited).unwrap();
    let home = unit
        .user
        .as_deref()
        .map(|u| tree.output(&["getent", "passwd", u]))
        .map(|entry| entry.split(':').nth(5).unwrap_or("/").to_owned())
        .unwrap_or_else(|| "/root".to_owned());
    let argv = unit.argv(&home);
    let mut in_tree: Vec<&str> = Vec::new();
    let cwd = unit.working_directory.clone().unwrap_or_else(|| "/".into());
    // chroot starts in the tree's /; a WorkingDirectory= is entered there.
    let script = format!("cd {} && exec \"$@\"", shell_words::quote(&cwd));
    in_tree.extend(["sh", "-c", &script, "sh"]);
    in_tree.extend(argv.iter().map(String::as_str));
    let started = Instant::now();
    let mut server = tree
        .command(&in_tree)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: unshare, runuser, gunicorn's master and its workers end together.
        .process_group(0)
        .spawn()
        .unwrap();
    let group = format!("-{}", server.id());
    let deadline = started + patience;
    let page = std::panic::catch_unwind(|| super::get(port, "/", deadline));
    let first_answer_seconds = started.elapsed().as_secs_f64();
    let health = std::panic::catch_unwind(|| super::get(port, "/healthz", deadline));
    let executables: Vec<PathBuf> = tree
        .processes()
        .iter()
        .filter(|p| p.cmdline.contains("demosite"))
        .filter_map(|p| fs::read_link(format!("/proc/{}/exe", p.pid)).ok())
        .collect();
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let _ = server.wait();
    let stopped = Instant::now();
    while !tree.processes().is_empty() && stopped.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left: Vec<String> = tree.processes().iter().map(|p| p.cmdline.clone()).collect();
    let (page, health) = (
        page.unwrap_or_else(|e| std::panic::resume_unwind(e)),
        health.unwrap_or_else(|e| std::panic::resume_unwind(e)),
    );
    assert!(
        left.is_empty(),
        "processes left in the tree after SIGTERM: {left:?}"
    );
    assert!(page.contains(&format!("<h1>{greeting}</h1>")), "{page}");
    assert!(page.contains("from /opt/venvs/demosite."), "{page}");
    assert_eq!(health, "ok\n");
    let machine = tree.output(&[
        "/opt/venvs/demosite/bin/python",
        "-c",
        "import platform; print(platform.machine())",
    ]);
    Served {
        page,
        machine,
        first_answer_seconds,
        executables,
    }
}

/// Purges demosite in `tree` and checks that nothing of it is left: no `/opt/venvs/demosite`, no
/// `/etc/demosite`, no system user or group `demosite`, no dpkg record, no process in the tree.
pub fn purge_demosite_to_nothing(tree: &Tree) {
    tree.purge("demosite");
    for gone in ["opt/venvs/demosite", "etc/demosite", "usr/bin/demosite"] {
        assert!(
            !tree.root().join(gone).exists(),
            "/{gone} is left after purge"
        );
    }
    for database in ["passwd", "group"] {
        let found = run_unchecked(&mut tree.command(&["getent", database, "demosite"]));
        assert!(
            !found.status.success(),
            "demosite is left in {database} after purge: {}",
            String::from_utf8_lossy(&found.stdout)
        );
    }
    let status = run_unchecked(&mut tree.command(&["dpkg-query", "-W", "demosite"]));
    assert!(
        !status.status.success(),
        "dpkg still knows demosite: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    let left: Vec<String> = tree.processes().iter().map(|p| p.cmdline.clone()).collect();
    assert!(left.is_empty(), "processes left in the tree: {left:?}");
}

/// The ELF machine of a file as `readelf -h` names it (`AArch64`, `Advanced Micro Devices
/// X86-64`), or None for a file that is not ELF.
pub fn elf_machine(path: &Path) -> Option<String> {
    let mut magic = [0u8; 4];
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    if file.read_exact(&mut magic).is_err() || &magic != b"\x7fELF" {
        return None;
    }
    let output = run(Command::new("readelf").args(["-h", "-W"]).arg(path));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Machine:"))
        .map(|m| m.trim().to_owned())
}

/// Every ELF file under `root` whose machine is not `machine`, with the machine it has.
pub fn elf_files_not_for(root: &Path, machine: &str) -> (usize, Vec<(PathBuf, String)>) {
    let mut count = 0;
    let mut wrong = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
    {
        if let Some(found) = elf_machine(entry.path()) {
            count += 1;
            if found != machine {
                wrong.push((entry.into_path(), found));
            }
        }
    }
    (count, wrong)
}

/// Makes this machine able to cross-build for arm64: `dpkg --add-architecture arm64` (when it is
/// not there yet), `apt-get update`, and crossbuild-essential-arm64 and libc6:arm64 (the C library
/// dpkg-shlibdeps resolves arm64 libraries against), under the dpkg lock the tests share.
pub fn prepare_cross_build() {
    let foreign = run(Command::new("dpkg").arg("--print-foreign-architectures"));
    let have_arm64 = String::from_utf8_lossy(&foreign.stdout)
        .lines()
        .any(|l| l.trim() == "arm64");
    let wanted = [
        "crossbuild-essential-arm64",
        "libc6:arm64",
        "libc6-dev:arm64",
    ];
    let missing = wanted.iter().any(|p| {
        let status = run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]));
        !String::from_utf8_lossy(&status.stdout).contains("ok installed")
    });
    if have_arm64 && !missing {
        return;
    }
    let _lock = dpkg_lock();
    if !have_arm64 {
        run(Command::new("dpkg").args(["--add-architecture", "arm64"]));
    }
    run(Command::new("apt-get").args(["update", "-qq"]));
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(wanted)
        .env("DEBIAN_FRONTEND", "noninteractive"));
}

/// Copies debian-example to `parent/demosite-1.0.0` and cross-builds it for arm64 with
/// `dpkg-buildpackage -us -uc -b -d -a arm64`, with the freshly built dh_rustvenv and this
/// repository's add-on, as [`super::build_copy`] builds it natively. Returns the command's output
/// and the .debs beside the copy (-dbgsym left out), whatever the status, so that the caller can
/// report a failed build in full.
pub fn cross_build_example(parent: &Path) -> (Output, Vec<(String, PathBuf)>) {
    prepare_cross_build();
    fs::create_dir_all(parent).unwrap();
    let dir = parent.join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(super::repo().join("debian-example"))
        .arg(&dir));
    let mut command = Command::new("dpkg-buildpackage");
    command
        .args(["-us", "-uc", "-b", "-d", "-a", "arm64"])
        .current_dir(&dir);
    with_tool_env(&mut command);
    let started = Instant::now();
    let output = run_unchecked(&mut command);
    eprintln!(
        "dpkg-buildpackage -a arm64 of {} took {:.0} s ({})",
        dir.display(),
        started.elapsed().as_secs_f64(),
        output.status
    );
    if !output.status.success() {
        eprintln!("{}", describe(&command, &output));
    }
    (output, super::debs_in(parent))
}
