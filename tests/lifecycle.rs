//! The lifecycle a user relies on, with debian-example (demosite) at 1.0.0 and at 1.0.1: install,
//! edit the conffile, upgrade, downgrade and purge, while the service keeps answering.
//!
//! 1.0.0 is debian-example as it is. 1.0.1 is a copy with a new changelog entry, the module
//! `demosite/app.py` dropped (its code moves to `demosite/web.py`), the conffile's default greeting
//! changed, and a new dependency, `sitebadge` (a pure-Python wheel this test writes into the copy's
//! wheelhouse and requirements), whose badge the page shows with the version.
//!
//! The service runs as its unit would: `systemctl` where systemd runs; elsewhere the unit's
//! `ExecStart` as the unit's `User` with runuser, in a process group of its own (as scripts/example
//! does). The admin's edit sets the port (a free one, so that the test takes no fixed port) and the
//! greeting before the service starts, since the service reads its configuration when it starts. A
//! client thread then asks for the page every few milliseconds through the upgrade and the downgrade
//! and counts the requests that do not answer 200 with the admin's greeting: there must be none.
//!
//! What dpkg does with the edited conffile whose default changed: it asks, offering to keep the
//! admin's file as the default answer. Without a terminal (stdin at its end) and without a
//! `--force-conf*` option, `dpkg -i` fails with "end of file on stdin at conffile prompt" and leaves
//! the package unpacked, not configured, the new file beside the admin's as
//! `demosite.conf.dpkg-new`. So the test passes `--force-confdef --force-confold`, as unattended
//! upgrades do (`apt-get -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
//! `--force-confdef` alone takes the same default): the admin's file is kept and the package's is
//! written next to it as `demosite.conf.dpkg-dist`, on the upgrade and again on the downgrade.
//!
//! How the running service takes up the new code: as its unit reloads it. On an upgrade or a
//! downgrade, the package's postinst neither stops nor restarts the service; under systemd it runs
//! `deb-systemd-invoke try-reload-or-restart demosite.service`, and the unit's
//! `ExecReload=/bin/kill -HUP $MAINPID` sends SIGHUP to gunicorn's master. The master starts new
//! workers, which import demosite anew and build the application from the installed code, and stops
//! the old ones once they have answered the requests they hold; a request that arrives in between
//! waits in the listening socket's queue. Under systemd the test relies on postinst's reload; without
//! systemd, where postinst does nothing, the test runs the unit's `ExecReload` itself, as the unit's
//! `User`, with `$MAINPID` the master it started. Either way it waits until the workers that served
//! the old code have ended, then requires the new code on every page, and the same master as
//! before: a reload, not a restart.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    Process, build_copy, dpkg_lock, edit, get, processes, purge_if_installed, run, run_unchecked,
    scratch,
};

const VENV: &str = "/opt/venvs/demosite";
const CONFFILE: &str = "/etc/demosite/demosite.conf";
const ADMIN_GREETING: &str = "Hello from the admin";
const BADGE_1_0_1: &str = "<p class=\"badge\">demosite 1.0.1</p>";

#[test]
fn demosite_upgrades_downgrades_and_purges_while_serving() {
    let tmp = scratch("lifecycle-");
    let started = Instant::now();
    let example = common::repo().join("debian-example");
    let old_deb = build_copy(&example, &tmp.path().join("v1.0.0"), "demosite-1.0.0")
        .remove(0)
        .1;
    let source_1_0_1 = tmp.path().join("source/demosite-1.0.1");
    make_1_0_1(&example, &source_1_0_1);
    let new_deb = build_copy(&source_1_0_1, &tmp.path().join("v1.0.1"), "demosite-1.0.1")
        .remove(0)
        .1;
    eprintln!(
        "lifecycle: both versions built in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let _lock = dpkg_lock();
    let installed_at = Instant::now();
    purge_if_installed("demosite");
    let mut installed = Installed { purged: false };
    dpkg_install(&old_deb);
    assert_eq!(installed_version(), "1.0.0");

    // The admin's edit: another port and another greeting.
    let port = free_port();
    edit(
        Path::new("/etc/demosite"),
        "demosite.conf",
        "bind = 127.0.0.1:8080",
        &format!("bind = 127.0.0.1:{port}"),
    );
    edit(
        Path::new("/etc/demosite"),
        "demosite.conf",
        "greeting = Hello from demosite",
        &format!("greeting = {ADMIN_GREETING}"),
    );
    let mut service = Service::start(tmp.path(), port);
    let page = get(port, "/", Instant::now() + Duration::from_secs(10));
    assert!(
        page.contains(&format!("<h1>{ADMIN_GREETING}</h1>")),
        "{page}"
    );
    assert!(!page.contains("class=\"badge\""), "{page}");
    let client = Client::start(port);

    // Upgrade to 1.0.1; the running service is reloaded and takes up its code.
    let before = client.counts();
    let running = service.running();
    dpkg_install(&new_deb);
    assert_eq!(installed_version(), "1.0.1");
    let site = site_packages();
    assert_module(&site, "app", false);
    assert_module(&site, "web", true);
    assert_no_orphan_bytecode();
    let version = run(Command::new("/usr/bin/demosite")
        .arg("--version")
        .current_dir("/"));
    assert_eq!(String::from_utf8_lossy(&version.stdout), "demosite 1.0.1\n");
    let badge = run(Command::new(format!("{VENV}/bin/python"))
        .args(["-c", "import sitebadge; print(sitebadge.badge('x'))"])
        .current_dir("/"));
    assert_eq!(
        String::from_utf8_lossy(&badge.stdout),
        "<p class=\"badge\">x</p>\n"
    );
    let conffile = fs::read_to_string(CONFFILE).unwrap();
    assert!(
        conffile.contains(&format!("greeting = {ADMIN_GREETING}")),
        "{conffile}"
    );
    let dist = fs::read_to_string(format!("{CONFFILE}.dpkg-dist"))
        .expect("dpkg writes 1.0.1's conffile as demosite.conf.dpkg-dist");
    assert!(dist.contains("greeting = Welcome to demosite"), "{dist}");
    assert!(dist.contains("bind = 127.0.0.1:8080"), "{dist}");
    service.reload(port, &running, |page| page.contains(BADGE_1_0_1));
    let upgrade = client.counts().since(&before);
    upgrade.report("upgrade 1.0.0→1.0.1");

    // Downgrade to 1.0.0: app.py is back, compiled by postinst; sitebadge is gone.
    let before = client.counts();
    let running = service.running();
    dpkg_install(&old_deb);
    assert_eq!(installed_version(), "1.0.0");
    assert_module(&site, "app", true);
    assert_module(&site, "web", false);
    assert_no_orphan_bytecode();
    for gone in ["sitebadge", "sitebadge-1.0.dist-info"] {
        assert!(
            !site.join(gone).exists(),
            "{gone} is left after the downgrade"
        );
    }
    let gone = run_unchecked(
        Command::new(format!("{VENV}/bin/python"))
            .args(["-c", "import sitebadge"])
            .current_dir("/"),
    );
    assert!(
        !gone.status.success(),
        "sitebadge is left after the downgrade"
    );
    let dist = fs::read_to_string(format!("{CONFFILE}.dpkg-dist")).unwrap();
    assert!(dist.contains("greeting = Hello from demosite"), "{dist}");
    assert!(
        fs::read_to_string(CONFFILE)
            .unwrap()
            .contains(&format!("greeting = {ADMIN_GREETING}"))
    );
    service.reload(port, &running, |page| {
        page.contains(&format!("<h1>{ADMIN_GREETING}</h1>")) && !page.contains("class=\"badge\"")
    });
    let downgrade = client.counts().since(&before);
    downgrade.report("downgrade 1.0.1→1.0.0");

    let total = client.stop();
    eprintln!(
        "lifecycle: {} requests in all, {} failed",
        total.requests, total.failed
    );
    assert_eq!(upgrade.failed, 0, "{:#?}", upgrade.errors);
    assert_eq!(downgrade.failed, 0, "{:#?}", downgrade.errors);

    // Purge, the service stopped first (without systemd nothing else stops it; under systemd
    // the package's prerm does).
    let uid = user_id("demosite").expect("the system user demosite");
    service.stop();
    installed.purge();
    assert_nothing_left(uid);
    eprintln!(
        "lifecycle: install to purge in {:.0} s",
        installed_at.elapsed().as_secs_f64()
    );
}

/// Makes demosite 1.0.1 in `dir` from the 1.0.0 source `example`.
fn make_1_0_1(example: &Path, dir: &Path) {
    fs::create_dir_all(dir.parent().unwrap()).unwrap();
    run(Command::new("cp").arg("-a").arg(example).arg(dir));
    let changelog = fs::read_to_string(dir.join("debian/changelog")).unwrap();
    fs::write(
        dir.join("debian/changelog"),
        format!(
            "demosite (1.0.1) unstable; urgency=medium\n\n  \
             * The page shows a badge with the version (new dependency: sitebadge).\n  \
             * demosite.app is now demosite.web.\n  \
             * New default greeting.\n\n \
             -- dh-rustvenv developers <dh-rustvenv@example.org>  Sun, 22 Nov 2026 12:00:00 +0000\n\n\
             {changelog}"
        ),
    )
    .unwrap();
    edit(
        dir,
        "pyproject.toml",
        "version = \"1.0.0\"",
        "version = \"1.0.1\"",
    );
    edit(
        dir,
        "pyproject.toml",
        "\"gunicorn>=22.0\",\n",
        "\"gunicorn>=22.0\",\n    \"sitebadge>=1.0\",\n",
    );
    edit(
        dir,
        "src/demosite/__init__.py",
        "__version__ = \"1.0.0\"",
        "__version__ = \"1.0.1\"",
    );
    fs::rename(
        dir.join("src/demosite/app.py"),
        dir.join("src/demosite/web.py"),
    )
    .unwrap();
    edit(
        dir,
        "src/demosite/web.py",
        "from demosite import config as configuration\n",
        "from sitebadge import badge\n\nfrom demosite import __version__\nfrom demosite import config as configuration\n",
    );
    edit(
        dir,
        "src/demosite/web.py",
        "from {prefix}.</p>\n",
        "from {prefix}.</p>\n{badge}\n",
    );
    edit(
        dir,
        "src/demosite/web.py",
        "prefix=escape(sys.prefix),\n",
        "prefix=escape(sys.prefix),\n        badge=badge(f\"demosite {__version__}\"),\n",
    );
    edit(
        dir,
        "src/demosite/cli.py",
        "from demosite.app import create_app",
        "from demosite.web import create_app",
    );
    for file in ["conf/demosite.conf", "src/demosite/config.py"] {
        edit(dir, file, "Hello from demosite", "Welcome to demosite");
    }
    let requirements = fs::read_to_string(dir.join("requirements.txt")).unwrap();
    fs::write(
        dir.join("requirements.txt"),
        format!("{requirements}sitebadge==1.0\n"),
    )
    .unwrap();
    run(Command::new("/usr/bin/python3")
        .args(["-c", SITEBADGE_WHEEL])
        .arg(dir.join("debian/wheelhouse/sitebadge-1.0-py3-none-any.whl")));
}

/// Writes sitebadge-1.0-py3-none-any.whl (a module with `badge(text)`, its METADATA, WHEEL and a
/// RECORD with the hashes, PEP 427 and PEP 376) to the path in `sys.argv[1]`.
const SITEBADGE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
files = {
    "sitebadge/__init__.py": '"""A badge for a web page."""\n\nfrom html import escape\n\n\n'
        'def badge(text):\n    return f\'<p class="badge">{escape(text)}</p>\'\n',
    "sitebadge-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: sitebadge\nVersion: 1.0\n"
        "Summary: A badge for a web page\n",
    "sitebadge-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: dh-rustvenv tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as wheel:
    for name, text in files.items():
        data = text.encode()
        wheel.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("sitebadge-1.0.dist-info/RECORD,,")
    wheel.writestr("sitebadge-1.0.dist-info/RECORD", "\n".join(record) + "\n")
"#;

/// `dpkg -i` without a terminal, keeping an edited conffile as unattended upgrades do.
fn dpkg_install(deb: &Path) {
    run(Command::new("dpkg")
        .args(["--force-confdef", "--force-confold", "-i"])
        .arg(deb));
}

/// The installed version of demosite.
fn installed_version() -> String {
    let output = run(Command::new("dpkg-query").args(["-W", "-f=${Version}", "demosite"]));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The venv's site-packages directory.
fn site_packages() -> PathBuf {
    fs::read_dir(format!("{VENV}/lib"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("python3")
        })
        .expect("the venv's lib/python3.X")
        .join("site-packages")
}

/// Asserts that the module `demosite.<name>` and its bytecode are installed (`present`) or are
/// both gone.
fn assert_module(site: &Path, name: &str, present: bool) {
    let source = site.join(format!("demosite/{name}.py"));
    assert_eq!(source.exists(), present, "{}", source.display());
    let cache = site.join("demosite/__pycache__");
    let bytecode: Vec<String> = fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{}: {e}", cache.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}.")) && n.ends_with(".pyc"))
        .collect();
    assert_eq!(
        !bytecode.is_empty(),
        present,
        "{name}'s bytecode in {}: {bytecode:?}",
        cache.display()
    );
}

/// Asserts that every `.pyc` of the venv has its module next to its `__pycache__` (PEP 3147): no
/// bytecode of a module the installed version does not have.
fn assert_no_orphan_bytecode() {
    let orphans: Vec<PathBuf> = walkdir::WalkDir::new(VENV)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "pyc"))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            let module = name.split('.').next().unwrap();
            let cache = p.parent().unwrap();
            cache.file_name().is_none_or(|n| n != "__pycache__")
                || !cache
                    .parent()
                    .unwrap()
                    .join(format!("{module}.py"))
                    .exists()
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "bytecode without its module: {orphans:#?}"
    );
}

/// A port of 127.0.0.1 nobody listens on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uid of `user`, if it exists.
fn user_id(user: &str) -> Option<u32> {
    let output = run_unchecked(Command::new("getent").args(["passwd", user]));
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .split(':')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap()
    })
}

/// After the purge: no venv, no bytecode, no configuration, no unit state, no user or group, no file
/// of the user, no process of the service, and dpkg knows nothing of the package.
fn assert_nothing_left(uid: u32) {
    for gone in [
        VENV,
        "/etc/demosite",
        "/usr/bin/demosite",
        "/usr/share/doc/demosite",
        "/lib/systemd/system/demosite.service",
        "/usr/lib/systemd/system/demosite.service",
        "/etc/systemd/system/multi-user.target.wants/demosite.service",
        "/var/lib/systemd/deb-systemd-helper-enabled/demosite.service.dsh-also",
        "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/demosite.service",
        "/var/lib/systemd/deb-systemd-helper-masked/demosite.service",
    ] {
        assert!(
            fs::symlink_metadata(gone).is_err(),
            "{gone} is left after purge"
        );
    }
    let status = run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", "demosite"]));
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.is_empty() || status.contains("not-installed"),
        "dpkg still knows demosite: {status}"
    );
    for database in ["passwd", "group"] {
        let entry = run_unchecked(Command::new("getent").args([database, "demosite"]));
        assert!(
            !entry.status.success(),
            "demosite is left in {database}: {}",
            String::from_utf8_lossy(&entry.stdout)
        );
    }
    let owned = run_unchecked(
        Command::new("find")
            .args([
                "/etc",
                "/opt",
                "/srv",
                "/var",
                "/run",
                "/home",
                "/nonexistent",
            ])
            .args(["-xdev", "-uid"])
            .arg(uid.to_string()),
    );
    assert!(
        owned.stdout.is_empty(),
        "files of the former user demosite (uid {uid}):\n{}",
        String::from_utf8_lossy(&owned.stdout)
    );
    let processes: Vec<u32> = processes()
        .into_iter()
        .filter(|p| p.state != 'Z' && (p.uid == uid || p.cmdline.contains(VENV)))
        .map(|p| p.pid)
        .collect();
    assert!(
        processes.is_empty(),
        "processes of the service left after purge: {processes:?}"
    );
}

/// demosite installed; purged when dropped, if the test did not purge it.
struct Installed {
    purged: bool,
}

impl Installed {
    fn purge(&mut self) {
        self.purged = true;
        run(Command::new("dpkg").args(["--purge", "demosite"]));
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.purged {
            // Never panics: this runs while a failed assertion unwinds.
            let _ = Command::new("dpkg")
                .args(["--purge", "demosite"])
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// The running service: under systemd, the unit; otherwise the unit's command run by runuser in a
/// process group of its own, with what the test needs to reload it as the unit would.
enum Service {
    Systemd,
    Direct {
        runuser: Child,
        group: u32,
        master: u32,
        user: String,
        exec_reload: String,
        log: PathBuf,
        stopped: bool,
    },
}

/// gunicorn's master and its workers at one moment.
struct Running {
    master: u32,
    workers: Vec<u32>,
}

impl Service {
    /// Starts the service as its unit would and waits until /healthz answers on `port` and all the
    /// workers of the configuration run (so that a reload finds none still starting).
    fn start(scratch: &Path, port: u16) -> Service {
        let service = if Path::new("/run/systemd/system").exists() {
            run(Command::new("systemctl").args(["restart", "demosite"]));
            Service::Systemd
        } else {
            start_direct(scratch)
        };
        let health = get(port, "/healthz", Instant::now() + Duration::from_secs(60));
        assert_eq!(health, "ok\n");
        let workers = configured_workers();
        wait_for(&format!("{workers} workers"), || {
            (service.running().workers.len() == workers).then_some(())
        });
        service
    }

    /// The gunicorn master (the unit's MainPID under systemd, else the process the test started)
    /// and its workers.
    fn running(&self) -> Running {
        let master = match self {
            Service::Systemd => {
                let shown = run(Command::new("systemctl").args([
                    "show",
                    "--property=MainPID",
                    "--value",
                    "demosite",
                ]));
                let pid = String::from_utf8_lossy(&shown.stdout).trim().to_owned();
                pid.parse()
                    .unwrap_or_else(|_| panic!("demosite's MainPID: {pid:?}"))
            }
            Service::Direct { master, .. } => *master,
        };
        assert!(alive(master), "gunicorn's master {master} does not run");
        let workers = processes()
            .into_iter()
            .filter(|p| p.ppid == master && p.state != 'Z')
            .map(|p| p.pid)
            .collect();
        Running { master, workers }
    }

    /// The reload that takes up the installed code, as the unit's `ExecReload` does it (under
    /// systemd, postinst has done it already): waits until the workers of `before` have ended, then
    /// requires every page to satisfy `serves_new` and the master to be that of `before`.
    fn reload(&self, port: u16, before: &Running, serves_new: impl Fn(&str) -> bool) {
        if let Service::Direct {
            user, exec_reload, ..
        } = self
        {
            let command = exec_reload.replace("$MAINPID", &before.master.to_string());
            run(Command::new("runuser")
                .args(["-u", user.as_str(), "--"])
                .args(command.split_whitespace())
                .current_dir("/"));
        }
        wait_for(
            &format!("the workers {:?} of the old code to end", before.workers),
            || before.workers.iter().all(|&w| !alive(w)).then_some(()),
        );
        for _ in 0..10 {
            let page = get(port, "/", Instant::now() + Duration::from_secs(10));
            assert!(serves_new(&page), "after the reload: {page}");
        }
        let after = self.running();
        assert_eq!(
            after.master, before.master,
            "the service was restarted, not reloaded"
        );
        assert_eq!(
            after.workers.len(),
            configured_workers(),
            "the workers after the reload: {:?}",
            after.workers
        );
    }

    /// Stops the service and waits until none of its processes is left.
    fn stop(&mut self) {
        match self {
            Service::Systemd => {
                let _ = Command::new("systemctl")
                    .args(["stop", "demosite"])
                    .status();
            }
            Service::Direct {
                runuser,
                group,
                stopped,
                ..
            } => {
                if *stopped {
                    return;
                }
                *stopped = true;
                let group = *group;
                let _ = Command::new("kill")
                    .args(["-TERM", "--", &format!("-{group}")])
                    .stderr(Stdio::null())
                    .status();
                let _ = runuser.wait();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline && !members(group).is_empty() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{group}")])
                    .stderr(Stdio::null())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && !members(group).is_empty() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let (true, Service::Direct { log, .. }) = (std::thread::panicking(), &*self) {
            let text = fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!(
                "--- the service's last lines ({}) ---\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        self.stop();
    }
}

/// The number of gunicorn workers the conffile sets.
fn configured_workers() -> usize {
    let conffile = fs::read_to_string(CONFFILE).unwrap();
    conffile
        .lines()
        .find_map(|l| l.strip_prefix("workers ="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{CONFFILE} sets no number of workers:\n{conffile}"))
}

/// Runs the unit's `ExecStart` as its `User` with runuser, in a process group of its own.
fn start_direct(scratch: &Path) -> Service {
    use std::os::unix::process::CommandExt;
    let unit = ["/lib/systemd/system", "/usr/lib/systemd/system"]
        .iter()
        .map(|dir| Path::new(dir).join("demosite.service"))
        .find(|p| p.exists())
        .expect("the unit demosite.service");
    let unit = fs::read_to_string(unit).unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("the unit has no {key}"))
            .trim()
            .to_owned()
    };
    let exec_start = value("ExecStart=");
    let exec_reload = value("ExecReload=");
    let user = value("User=");
    let log = scratch.join("demosite.log");
    let output = fs::File::create(&log).unwrap();
    let runuser = Command::new("runuser")
        .args(["-u", &user, "--"])
        .args(exec_start.split_whitespace())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .process_group(0)
        .spawn()
        .unwrap();
    let group = runuser.id();
    let master = wait_for("gunicorn's master", || {
        processes()
            .into_iter()
            .find(|p| p.ppid == group && p.state != 'Z')
    })
    .pid;
    Service::Direct {
        runuser,
        group,
        master,
        user,
        exec_reload,
        log,
        stopped: false,
    }
}

/// The live processes of the process group `group`.
fn members(group: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.group == group && runs(p))
        .map(|p| p.pid)
        .collect()
}

/// Whether `pid` runs (it exists and has not ended).
fn alive(pid: u32) -> bool {
    processes().iter().any(|p| p.pid == pid && runs(p))
}

/// Whether the process runs (it has not ended).
fn runs(process: &Process) -> bool {
    process.state != 'Z'
}

/// Polls `found` every 100 ms until it returns something, for at most 60 s.
fn wait_for<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests and failures counted by the client, and the first failures' reasons.
#[derive(Default, Clone)]
struct Counts {
    requests: u64,
    failed: u64,
    errors: Vec<String>,
}

impl Counts {
    /// The counts since `before`.
    fn since(&self, before: &Counts) -> Counts {
        Counts {
            requests: self.requests - before.requests,
            failed: self.failed - before.failed,
            errors: self.errors[before.errors.len()..].to_vec(),
        }
    }

    fn report(&self, phase: &str) {
        eprintln!(
            "lifecycle: {phase}: {} requests, {} failed",
            self.requests, self.failed
        );
    }
}

/// A thread that GETs / from the service every 5 ms, a new connection each time, until stopped:
/// a request fails unless it is answered 200 with the admin's greeting.
struct Client {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Client {
    fn start(port: u16) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, requests, failed, errors) = (
                stop.clone(),
                requests.clone(),
                failed.clone(),
                errors.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let outcome = request(port);
                    // The failure is recorded before the count, so that counts() never sees a
                    // failure without its reason.
                    if let Err(error) = outcome {
                        let mut errors = errors.lock().unwrap();
                        if errors.len() < 20 {
                            errors.push(error);
                        }
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Client {
            stop,
            requests,
            failed,
            errors,
            thread: Some(thread),
        }
    }

    fn counts(&self) -> Counts {
        // Requests first: a request counted here has its failure, if any, counted too.
        let requests = self.requests.load(Ordering::SeqCst);
        let failed = self.failed.load(Ordering::SeqCst);
        let errors = self.errors.lock().unwrap().clone();
        Counts {
            requests,
            failed,
            errors,
        }
    }

    /// Stops the thread; the counts of its whole run.
    fn stop(mut self) -> Counts {
        self.join();
        self.counts()
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.join();
    }
}

/// One GET / on a new connection: Ok if answered 200 with the admin's greeting.
fn request(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("receive: {e}"))?;
    let status = response.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.") || !status.contains(" 200 ") {
        return Err(format!("status {status:?}"));
    }
    if !response.contains(&format!("<h1>{ADMIN_GREETING}</h1>")) {
        return Err(format!("page without the admin's greeting: {response}"));
    }
    Ok(())
}
