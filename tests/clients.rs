//! Source packages written the way dh-virtualenv's users write them build, install, upgrade, react to
//! triggers and purge, unedited with the dh-rustvenv-virtualenv drop-in and once migrated to
//! dh-rustvenv as README's "Moving from dh-virtualenv" says; and a build whose sdist records its own
//! build directory fails the audit.
//!
//! The fixtures:
//! - relay (a message relay), with `Depends: ${misc:Depends}` only. Its debian/rules builds relayctl, a
//!   small C program linked against zlib and libpq, in override_dh_virtualenv (dh-virtualenv's sequence
//!   has no dh_auto_build) and copies it into the venv's bin/ after dh_virtualenv. It requires stamped, an upstream wheel whose extension module,
//!   module and header name the upstream's own build path `/tmp/pip-req-build-abc123/src/...`. Its own
//!   postinst, prerm and postrm use `$dh_venv_package` and `$dh_venv_install_dir` after `#DEBHELPER#`,
//!   keep a log in /var/lib/relay and remove it on purge; its triggers file asks for
//!   `dh-virtualenv-interpreter-update` and `/usr/bin/python3.11`. Versions 1.0 and 1.1 are built;
//!   1.0 is installed, upgraded to 1.1, both triggers are activated, then it is removed and purged.
//! - ledger (a bookkeeping tool), with `export DH_VIRTUALENV_INSTALL_ROOT=/usr/lib/` (trailing slash),
//!   `--install-suffix ledger-tools --use-system-packages --python /usr/bin/python3`, Depends on
//!   python3-wheel, which it imports from the system at run time, and a requirement on docpack, a
//!   wheel whose extension module carries zlib and libxml2 as lintian's table of embedded libraries
//!   recognizes them.
//! - wherebuilt-user (test `an_sdist_recording_its_build_directory_fails_the_audit`): requires
//!   wherebuilt, an sdist pip builds during the package build, whose setup.py writes the directory
//!   it is built in into an installed module; the audit must fail the build and name that file.
//! - forgetful (test `a_migrated_control_without_rustvenv_depends_is_warned_about`): a package moved
//!   to dh-rustvenv whose Depends still names only `${misc:Depends}`; the build must warn that
//!   `${rustvenv:Depends}` is missing.
//! - booksuite (test `a_venv_named_with_install_suffix_under_usr_lib_builds_with_readmes_exclusions`):
//!   ledger's layout, a venv under /usr/lib named with --install-suffix, holding the wheel whose
//!   libraries are bundled as auditwheel bundles them, and the overrides of the ELF tools README asks
//!   such a venv for; the build must succeed and the module import.
//!
//! relay and ledger install from the tests' local wheelhouse through pip's own PIP_NO_INDEX and
//! PIP_FIND_LINKS, as an offline build machine with a pip configuration would, so their rules stay as
//! written. The test gathers every failed check of every fixture before it fails, and prints, per
//! build, the package's Depends, lintian's error and warning counts and how many of its files name the
//! build directory.

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    InstalledTools, deb_field, deb_paths, describe, dpkg_lock, edit, files_naming,
    lintian_complaints, offline_build_command, purge_if_installed, run, run_unchecked, scratch,
    sha256, wheelhouse_file, write,
};

const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
    Files: *\nCopyright: 2026 Example Ops\nLicense: Expat\n\nLicense: Expat\n Permission is hereby granted, \
    free of charge, to any person obtaining a copy of this\n software, to deal in the Software without \
    restriction.\n";

/// debian/source/format, debian/copyright and debian/changelog (every version up to `version`, the
/// newest first) of a native source package.
fn write_source_files(dir: &Path, source: &str, maintainer: &str, version: &str) {
    write(dir, "debian/source/format", "3.0 (native)\n", 0o644);
    write(dir, "debian/copyright", COPYRIGHT, 0o644);
    let entries: Vec<String> = [("1.1", 28), ("1.0", 21)]
        .into_iter()
        .filter(|(v, _)| *v <= version)
        .map(|(v, day)| {
            format!(
                "{source} ({v}) unstable; urgency=medium\n\n  * Release {v}.\n\n -- {maintainer}  Sat, {day} Nov 2026 00:00:00 +0000\n"
            )
        })
        .collect();
    write(dir, "debian/changelog", &entries.join("\n"), 0o644);
}

const RELAY_MAINTAINER: &str = "Relay Team <relay@example.org>";

/// The relay source package at version `version`, in `dir`.
fn relay(dir: &Path, version: &str) {
    write(
        dir,
        "pyproject.toml",
        &format!(
            "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"relay\"\nversion = \"{version}\"\ndependencies = [\"greetlib\", \"stamped\"]\n\n\
             [project.scripts]\nrelay = \"relay:main\"\n\n\
             [tool.setuptools]\npackage-dir = {{\"\" = \"src\"}}\npackages = [\"relay\"]\n"
        ),
        0o644,
    );
    write(
        dir,
        "src/relay/__init__.py",
        &format!(
            "\"\"\"The relay: forwards messages between the ops team's queues.\"\"\"\n\n\
             import os\nimport subprocess\nimport sys\n\nimport greetlib\nimport stamped\n\n\
             __version__ = \"{version}\"\n\n\n\
             def main():\n    print(greetlib.greeting(\"relay\"))\n    \
             print(f\"relay {{__version__}} in {{sys.prefix}}\")\n    \
             print(f\"stamped was built from {{stamped.origin()}}\")\n    \
             relayctl = os.path.join(sys.prefix, \"bin\", \"relayctl\")\n    \
             print(subprocess.run([relayctl], capture_output=True, text=True, check=True).stdout.strip())\n"
        ),
        0o644,
    );
    write(
        dir,
        "requirements.txt",
        "greetlib==1.0\nstamped==1.0\n",
        0o644,
    );
    write(
        dir,
        "tools/relayctl.c",
        "/* relayctl: tells the on-call which zlib and libpq the relay runs with. */\n\
         #include <stdio.h>\n#include <libpq-fe.h>\n#include <zlib.h>\n\n\
         int main(void) {\n    printf(\"relayctl: zlib %s, libpq %d\\n\", zlibVersion(), PQlibVersion());\n    return 0;\n}\n",
        0o644,
    );
    write_source_files(dir, "relay", RELAY_MAINTAINER, version);
    write(
        dir,
        "debian/control",
        &format!(
            "Source: relay\nSection: net\nPriority: optional\nMaintainer: {RELAY_MAINTAINER}\n\
             Build-Depends: debhelper-compat (= 13), dh-virtualenv (>= 1.2), python3-venv, python3-dev,\n \
             zlib1g-dev, libpq-dev\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
             Package: relay\nArchitecture: any\nDepends: ${{misc:Depends}}\n\
             Description: message relay of the ops team\n Forwards messages between the ops team's queues; \
             relayctl shows the libraries\n it runs with.\n"
        ),
        0o644,
    );
    write(
        dir,
        "debian/rules",
        r#"#!/usr/bin/make -f
# relay, packaged with dh-virtualenv.
#export DH_VERBOSE = 1

PKG := relay
VENV := debian/$(PKG)/opt/venvs/$(PKG)
# libpq-fe.h is not in the default include path.
PG_INCLUDEDIR := $(shell pg_config --includedir)

%:
	dh $@ --with python-virtualenv

# dh-virtualenv's sequence has no dh_auto_build: relayctl, plain C built with Debian's flags, is built
# here, and goes next to the relay itself, where the on-call finds it.
override_dh_virtualenv:
	$(CC) $(CPPFLAGS) $(CFLAGS) -I$(PG_INCLUDEDIR) $(LDFLAGS) -o tools/relayctl tools/relayctl.c -lpq -lz
	dh_virtualenv --python /usr/bin/python3 \
		--extra-pip-arg --no-cache-dir \
		--extra-pip-arg --progress-bar=off
	install -m 0755 tools/relayctl $(VENV)/bin/relayctl

override_dh_clean:
	dh_clean
	rm -f tools/relayctl
"#,
        0o755,
    );
    write(
        dir,
        "debian/relay.postinst",
        r#"#!/bin/sh
# postinst script for relay
set -e

#DEBHELPER#

case "$1" in
    configure)
        # relay-admin reads which venv this host runs from here.
        mkdir -p /var/lib/relay
        echo "configure package=$dh_venv_package venv=$dh_venv_install_dir" >> /var/lib/relay/scripts.log
        cd $dh_venv_install_dir/lib
        ls -d python3*/site-packages > /var/lib/relay/site-packages
        ;;
    triggered)
        mkdir -p /var/lib/relay
        echo "triggered $2 package=$dh_venv_package venv=$dh_venv_install_dir" >> /var/lib/relay/scripts.log
        ;;
    abort-upgrade|abort-remove|abort-deconfigure)
        ;;
    *)
        echo "postinst called with unknown argument \`$1'" >&2
        exit 1
        ;;
esac

exit 0
"#,
        0o755,
    );
    write(
        dir,
        "debian/relay.prerm",
        r#"#!/bin/sh
# prerm script for relay
set -e

#DEBHELPER#

case "$1" in
    remove|upgrade|deconfigure)
        echo "prerm $1 package=$dh_venv_package venv=$dh_venv_install_dir" >> /var/lib/relay/scripts.log
        # Bytecode of the entry points, written when they ran.
        rm -rf "${dh_venv_install_dir:-/should_be_an_arg}/bin/__pycache__"
        ;;
esac

exit 0
"#,
        0o755,
    );
    write(
        dir,
        "debian/relay.postrm",
        "#!/bin/sh\n# postrm script for relay\nset -e\n\n#DEBHELPER#\n\n\
         if [ \"$1\" = purge ]; then\n    rm -rf /var/lib/relay\nfi\n\nexit 0\n",
        0o755,
    );
    write(
        dir,
        "debian/relay.triggers",
        "# Rebuild the bytecode when the interpreter changes.\ninterest dh-virtualenv-interpreter-update\n\
         interest-noawait /usr/bin/python3.11\n",
        0o644,
    );
}

/// relay migrated as README's "Moving from dh-virtualenv" says.
fn migrate_relay(dir: &Path) {
    edit(
        dir,
        "debian/control",
        "dh-virtualenv (>= 1.2)",
        "dh-sequence-rustvenv",
    );
    edit(
        dir,
        "debian/control",
        "Depends: ${misc:Depends}",
        "Depends: ${rustvenv:Depends}, ${misc:Depends}",
    );
    edit(dir, "debian/rules", " --with python-virtualenv", "");
    edit(
        dir,
        "debian/rules",
        "override_dh_virtualenv:",
        "override_dh_rustvenv:",
    );
    edit(dir, "debian/rules", "\tdh_virtualenv ", "\tdh_rustvenv ");
}

const LEDGER_MAINTAINER: &str = "Books Team <books@example.org>";
const LEDGER_VENV: &str = "/usr/lib/ledger-tools";

/// The ledger source package, in `dir`.
fn ledger(dir: &Path) {
    write(
        dir,
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"ledger\"\nversion = \"1.0\"\ndependencies = [\"docpack\"]\n\n\
         [project.scripts]\nledger = \"ledger:main\"\n\n\
         [tool.setuptools]\npackage-dir = {\"\" = \"src\"}\npackages = [\"ledger\"]\n",
        0o644,
    );
    write(
        dir,
        "src/ledger/__init__.py",
        "\"\"\"The ledger: keeps the books, archived in the wheel format by Debian's own wheel module.\"\"\"\n\n\
         import os\nimport sys\n\nimport docpack\nimport wheel\nfrom wheel.wheelfile import WheelFile\n\n\n\
         def main():\n    print(f\"ledger in {sys.prefix}\")\n    \
         print(f\"wheel {wheel.__version__} from {os.path.dirname(wheel.__file__)}\")\n    \
         print(f\"archives with {WheelFile.__module__}.{WheelFile.__name__}\")\n    \
         print(f\"{len(docpack.notices())} notices\")\n",
        0o644,
    );
    write(dir, "requirements.txt", "docpack==1.0\n", 0o644);
    write_source_files(dir, "ledger", LEDGER_MAINTAINER, "1.0");
    write(
        dir,
        "debian/control",
        &format!(
            "Source: ledger\nSection: utils\nPriority: optional\nMaintainer: {LEDGER_MAINTAINER}\n\
             Build-Depends: debhelper-compat (= 13), dh-virtualenv, python3-venv, python3-wheel\n\
             Standards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
             Package: ledger\nArchitecture: any\nDepends: ${{shlibs:Depends}}, ${{misc:Depends}}, python3-wheel\n\
             Description: bookkeeping tool of the books team\n Keeps the team's books, in a virtualenv \
             that uses Debian's python3-wheel.\n"
        ),
        0o644,
    );
    write(
        dir,
        "debian/rules",
        r#"#!/usr/bin/make -f
# ledger's venv goes under /usr/lib, not /opt: the books team's hosts keep /opt for data.
export DH_VIRTUALENV_INSTALL_ROOT=/usr/lib/

%:
	dh $@ --with python-virtualenv

override_dh_virtualenv:
	# python3-wheel comes from Debian: the venv sees the system's packages.
	dh_virtualenv --install-suffix ledger-tools --use-system-packages --python /usr/bin/python3

# No test suite to run at build time.
override_dh_auto_test:
"#,
        0o755,
    );
    write(
        dir,
        "debian/ledger.links",
        "usr/lib/ledger-tools/bin/ledger usr/bin/ledger\n",
        0o644,
    );
}

/// ledger migrated as README's "Moving from dh-virtualenv" says.
fn migrate_ledger(dir: &Path) {
    edit(
        dir,
        "debian/control",
        "dh-virtualenv,",
        "dh-sequence-rustvenv,",
    );
    edit(
        dir,
        "debian/control",
        "Depends: ${shlibs:Depends}",
        "Depends: ${rustvenv:Depends}, ${shlibs:Depends}",
    );
    edit(dir, "debian/rules", " --with python-virtualenv", "");
    edit(
        dir,
        "debian/rules",
        "override_dh_virtualenv:",
        "override_dh_rustvenv:",
    );
    edit(dir, "debian/rules", "\tdh_virtualenv ", "\tdh_rustvenv ");
}

/// Runs dpkg-buildpackage -b in `dir` with the installed tools, offline from the tests' wheelhouse,
/// with DH_VERBOSE=1 when `verbose`; panics with its output when it fails. Returns the .deb of
/// `package` and the build's output.
fn build(dir: &Path, package: &str, verbose: bool) -> (PathBuf, String) {
    let mut command = offline_build_command(dir);
    if verbose {
        command.env("DH_VERBOSE", "1");
    }
    let started = std::time::Instant::now();
    let output = run_unchecked(&mut command);
    assert!(
        output.status.success(),
        "the build failed\n{}",
        describe(&command, &output)
    );
    eprintln!(
        "built {} in {:.0} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    let version = fs::read_to_string(dir.join("debian/changelog")).unwrap();
    let version = version.split(['(', ')']).nth(1).unwrap().to_owned();
    let prefix = format!("{package}_{version}_");
    let deb = fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".deb")
        })
        .unwrap_or_else(|| panic!("no {prefix}*.deb beside {}", dir.display()));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (deb, log)
}

/// The lines of a build's output that contain every one of `words`.
fn lines_with<'a>(log: &'a str, words: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .collect()
}

/// Every check of every fixture, so that one run tells all that fails.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
    passed: usize,
}

impl Checks {
    /// Records `what` (a sentence of what a user checks) as passed or, with `detail`, failed.
    fn check(&mut self, label: &str, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            eprintln!("ok: {label}: {what}");
        } else {
            let message = format!("{label}: {what}\n    {}", detail().replace('\n', "\n    "));
            eprintln!("FAILED: {message}");
            self.failed.push(message);
        }
    }

    /// Runs `steps`, recording a panic among them as a failure of `label` (the steps after it do not
    /// run), then `cleanup` whatever happened.
    fn steps(&mut self, label: &str, steps: impl FnOnce(&mut Checks), cleanup: impl FnOnce()) {
        let result = catch_unwind(AssertUnwindSafe(|| steps(self)));
        cleanup();
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            self.failed
                .push(format!("{label}: stopped by a failed step: {message}"));
        }
    }
}

/// What a user sees of one built package, for the closing report.
struct Figures {
    label: String,
    depends: String,
    errors: Vec<String>,
    warnings: usize,
    naming_build_dir: Vec<PathBuf>,
}

/// Extracts the .deb (data into `into/data`, control into `into/control`) and gathers its figures;
/// the build directory is `dir`.
fn figures(label: &str, deb: &Path, dir: &Path, into: &Path) -> Figures {
    let _ = fs::remove_dir_all(into);
    fs::create_dir_all(into).unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(into.join("data")));
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(deb)
        .arg(into.join("control")));
    let complaints = lintian_complaints(deb);
    eprintln!("{label}: lintian: {complaints:#?}");
    let top = dir.to_string_lossy().into_owned();
    Figures {
        label: label.to_owned(),
        depends: deb_field(deb, "Depends"),
        errors: complaints
            .iter()
            .filter(|c| c.starts_with("E: "))
            .cloned()
            .collect(),
        warnings: complaints.iter().filter(|c| c.starts_with("W: ")).count(),
        naming_build_dir: files_naming(&into.join("data"), &top)
            .into_iter()
            .chain(files_naming(&into.join("control"), &top))
            .collect(),
    }
}

/// The sha256 of a member of a wheel (a zip file).
fn wheel_member_sha256(wheel: &Path, member: &str) -> String {
    let output = run(Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(
            "import hashlib, sys, zipfile\n\
             print(hashlib.sha256(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])).hexdigest())",
        )
        .arg(wheel)
        .arg(member));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Runs a command and returns its output (a failure is the caller's to check).
fn try_run(program: &str, args: &[&str]) -> Output {
    run_unchecked(Command::new(program).args(args).current_dir("/"))
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const RELAY_VENV: &str = "/opt/venvs/relay";
const STAMPED_MARK: &str = "/tmp/pip-req-build-abc123";

/// What every built package must be: lintian reports no error, and no file names the build directory.
fn check_clean(checks: &mut Checks, label: &str, figures: &Figures) {
    checks.check(
        label,
        "lintian reports no E:",
        figures.errors.is_empty(),
        || figures.errors.join("\n"),
    );
    checks.check(
        label,
        "no file of the package names the build directory",
        figures.naming_build_dir.is_empty(),
        || format!("{:?}", figures.naming_build_dir),
    );
}

/// The checks of one built relay .deb, before installing it.
fn check_relay_deb(checks: &mut Checks, label: &str, figures: &Figures, extracted: &Path) {
    for library in ["python3.11", "libc6", "zlib1g", "libpq5"] {
        checks.check(
            label,
            &format!("Depends names {library}"),
            figures.depends.split([',', '|']).any(|d| {
                d.trim()
                    .split([' ', '('])
                    .next()
                    .is_some_and(|n| n == library)
            }),
            || figures.depends.clone(),
        );
    }
    check_clean(checks, label, figures);
    let site = extracted.join("data/opt/venvs/relay/lib/python3.11/site-packages/stamped");
    let wheel = wheelhouse_file("stamped-");
    for member in ["stamped/include/stamped.h", "stamped/_origin.py"] {
        let shipped = site.join(member.trim_start_matches("stamped/"));
        let ok = shipped.is_file() && sha256(&shipped) == wheel_member_sha256(&wheel, member);
        checks.check(
            label,
            &format!("{member}, which names {STAMPED_MARK}, ships byte for byte as in the wheel"),
            ok,
            || {
                format!(
                    "{}: {}",
                    shipped.display(),
                    fs::read_to_string(&shipped).unwrap_or_else(|e| e.to_string())
                )
            },
        );
    }
    let module = fs::read_dir(&site).ok().and_then(|d| {
        d.map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "so"))
    });
    checks.check(
        label,
        &format!("stamped's extension module ships, still naming {STAMPED_MARK}"),
        module.as_ref().is_some_and(|m| {
            let bytes = fs::read(m).unwrap();
            bytes
                .windows(STAMPED_MARK.len())
                .any(|w| w == STAMPED_MARK.as_bytes())
        }),
        || format!("{module:?}"),
    );
}

/// The checks of a relay build's output: where the dependencies went, and (verbose) stamped's files
/// listed as upstream's.
fn check_relay_log(checks: &mut Checks, label: &str, log: &str, migrated: bool, verbose: bool) {
    let lost = lines_with(log, &["would be lost"]);
    checks.check(
        label,
        "the build warns of no dependency lost",
        lost.is_empty(),
        || lost.join("\n"),
    );
    if !migrated {
        let note = lines_with(log, &["names no ${shlibs:Depends}", "${misc:Depends}"]);
        checks.check(
            label,
            "the build notes that the libraries go to ${misc:Depends}",
            !note.is_empty(),
            || log.to_owned(),
        );
    }
    if verbose {
        for file in ["stamped/_origin.py", "stamped/include/stamped.h"] {
            let listed = lines_with(log, &[file]);
            checks.check(
                label,
                &format!("-v lists {file} among the files naming upstream's build paths"),
                !listed.is_empty() && log.contains("upstream"),
                || log.to_owned(),
            );
        }
    }
}

/// Builds relay 1.0 and 1.1 (migrated or not), checks them, installs 1.0, upgrades to 1.1, activates
/// the triggers, removes and purges; returns the figures of both builds.
fn relay_steps(checks: &mut Checks, tmp: &Path, migrated: bool, report: &mut Vec<Figures>) {
    let mode = if migrated { "migrated" } else { "unedited" };
    let parent = tmp.join(mode).join("relay");
    let mut debs = Vec::new();
    for version in ["1.0", "1.1"] {
        let dir = parent.join(format!("relay-{version}"));
        relay(&dir, version);
        if migrated {
            migrate_relay(&dir);
        }
        // 1.1 is built verbose, as one looks into a build.
        let verbose = version == "1.1";
        let (deb, log) = build(&dir, "relay", verbose);
        let label = format!("relay {version} ({mode})");
        let extracted = tmp.join(mode).join(format!("relay-{version}-deb"));
        let figures = figures(&label, &deb, &dir, &extracted);
        check_relay_deb(checks, &label, &figures, &extracted);
        check_relay_log(checks, &label, &log, migrated, verbose);
        report.push(figures);
        debs.push(deb);
    }
    let label = format!("relay ({mode})");
    let label = label.as_str();
    let log = Path::new("/var/lib/relay/scripts.log");

    let installed = run_unchecked(Command::new("dpkg").arg("-i").arg(&debs[0]));
    checks.check(
        label,
        "relay 1.0 installs",
        installed.status.success(),
        || text(&installed),
    );
    let ran = try_run(&format!("{RELAY_VENV}/bin/relay"), &[]);
    let out = String::from_utf8_lossy(&ran.stdout).into_owned();
    checks.check(
        label,
        "the console script runs, and runs relayctl from the venv (zlib, libpq)",
        ran.status.success()
            && out.contains("hello, relay")
            && out.contains("relay 1.0 in /opt/venvs/relay")
            && out.contains(&format!(
                "stamped was built from {STAMPED_MARK}/src/stamped/_core.c"
            ))
            && out.contains("relayctl: zlib 1.")
            && out.contains(", libpq 1"),
        || text(&ran),
    );
    let relayctl = try_run(&format!("{RELAY_VENV}/bin/relayctl"), &[]);
    checks.check(
        label,
        "relayctl runs from the venv",
        relayctl.status.success(),
        || text(&relayctl),
    );
    let site_packages = fs::read_to_string("/var/lib/relay/site-packages").unwrap_or_default();
    checks.check(
        label,
        "the postinst's `cd $dh_venv_install_dir/lib` reached the venv's lib/",
        site_packages.trim() == "python3.11/site-packages",
        || format!("/var/lib/relay/site-packages: {site_packages:?}"),
    );

    let upgraded = run_unchecked(Command::new("dpkg").arg("-i").arg(&debs[1]));
    checks.check(
        label,
        "relay upgrades to 1.1",
        upgraded.status.success(),
        || text(&upgraded),
    );
    let ran = try_run(&format!("{RELAY_VENV}/bin/relay"), &[]);
    checks.check(
        label,
        "relay 1.1 runs after the upgrade",
        ran.status.success() && String::from_utf8_lossy(&ran.stdout).contains("relay 1.1 in"),
        || text(&ran),
    );

    let leaking = files_naming(Path::new(RELAY_VENV), parent.to_string_lossy().as_ref());
    checks.check(
        label,
        "no installed file, bytecode compiled at installation included, names the build directories",
        leaking.is_empty(),
        || format!("{leaking:?}"),
    );

    // The interpreter changed: the bytecode is rebuilt through the named trigger.
    let pycache = Path::new(RELAY_VENV).join("lib/python3.11/site-packages/relay/__pycache__");
    let _ = fs::remove_dir_all(&pycache);
    let activated = try_run(
        "dpkg-trigger",
        &["--no-await", "dh-virtualenv-interpreter-update"],
    );
    let processed = try_run("dpkg", &["--triggers-only", "--pending"]);
    checks.check(
        label,
        "postinst takes `triggered dh-virtualenv-interpreter-update`",
        activated.status.success() && processed.status.success(),
        || format!("{}\n{}", text(&activated), text(&processed)),
    );
    checks.check(
        label,
        "the named trigger recompiled the venv's bytecode",
        fs::read_dir(&pycache).is_ok_and(|d| d.count() > 0),
        || format!("{} is missing or empty", pycache.display()),
    );
    let activated = try_run("dpkg-trigger", &["--no-await", "/usr/bin/python3.11"]);
    let processed = try_run("dpkg", &["--configure", "--pending"]);
    checks.check(
        label,
        "postinst takes `triggered /usr/bin/python3.11`",
        activated.status.success() && processed.status.success(),
        || format!("{}\n{}", text(&activated), text(&processed)),
    );
    let status = try_run("dpkg-query", &["-W", "-f=${Status}", "relay"]);
    checks.check(
        label,
        "relay is installed and configured after the triggers",
        String::from_utf8_lossy(&status.stdout) == "install ok installed",
        || text(&status),
    );

    let removed = try_run("dpkg", &["--remove", "relay"]);
    checks.check(label, "relay is removed", removed.status.success(), || {
        text(&removed)
    });
    let scripts = fs::read_to_string(log).unwrap_or_default();
    let expected = [
        "configure package=relay venv=/opt/venvs/relay",
        "prerm upgrade package=relay venv=/opt/venvs/relay",
        "triggered dh-virtualenv-interpreter-update package=relay venv=/opt/venvs/relay",
        "triggered /usr/bin/python3.11 package=relay venv=/opt/venvs/relay",
        "prerm remove package=relay venv=/opt/venvs/relay",
    ];
    for line in expected {
        checks.check(
            label,
            &format!("the package's own scripts logged `{line}`"),
            scripts.lines().any(|l| l == line),
            || format!("{}:\n{scripts}", log.display()),
        );
    }
    checks.check(
        label,
        "postinst ran `configure` twice with the variables set (install, upgrade)",
        scripts
            .lines()
            .filter(|l| *l == "configure package=relay venv=/opt/venvs/relay")
            .count()
            == 2,
        || scripts.clone(),
    );

    let purged = try_run("dpkg", &["--purge", "relay"]);
    checks.check(label, "relay is purged", purged.status.success(), || {
        text(&purged)
    });
    for left in [RELAY_VENV, "/var/lib/relay"] {
        checks.check(
            label,
            &format!("purge leaves no {left}"),
            !Path::new(left).exists(),
            || files_listing(Path::new(left)),
        );
    }
}

/// What is left under `dir`, for a failure's message.
fn files_listing(dir: &Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .take(40)
        .map(|e| e.path().display().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds ledger (migrated or not), checks it, installs it, runs it and purges it; returns the figures
/// of its build.
fn ledger_steps(checks: &mut Checks, tmp: &Path, migrated: bool, report: &mut Vec<Figures>) {
    let mode = if migrated { "migrated" } else { "unedited" };
    let dir = tmp.join(mode).join("ledger/ledger-1.0");
    ledger(&dir);
    if migrated {
        migrate_ledger(&dir);
    }
    let (deb, log) = build(&dir, "ledger", false);
    let label = format!("ledger ({mode})");
    let label = label.as_str();
    let warned = lines_with(&log, &["names no python3-* package"]);
    checks.check(
        label,
        "-S draws no warning, as debian/control names python3-wheel",
        warned.is_empty(),
        || warned.join("\n"),
    );
    let extracted = tmp.join(mode).join("ledger-deb");
    let figures = figures(label, &deb, &dir, &extracted);

    checks.check(
        label,
        "Depends names python3.11 and python3-wheel",
        figures.depends.contains("python3.11") && figures.depends.contains("python3-wheel"),
        || figures.depends.clone(),
    );
    let embedded: Vec<&String> = figures
        .errors
        .iter()
        .filter(|e| e.contains("embedded-library"))
        .collect();
    checks.check(
        label,
        "lintian reports no embedded-library (the overrides cover zlib and libxml2)",
        embedded.is_empty(),
        || format!("{embedded:#?}"),
    );
    check_clean(checks, label, &figures);
    let doubled: Vec<PathBuf> = files_naming(&extracted, "/usr/lib//");
    checks.check(
        label,
        "no file, maintainer script included, says /usr/lib// (the root's trailing slash)",
        doubled.is_empty(),
        || format!("{doubled:?}"),
    );
    for script in ["postinst", "prerm"] {
        let text = fs::read_to_string(extracted.join("control").join(script)).unwrap_or_default();
        checks.check(
            label,
            &format!(
                "{script} sets dh_venv_install_dir='{LEDGER_VENV}' and dh_venv_package='ledger'"
            ),
            text.lines()
                .any(|l| l.trim() == format!("dh_venv_install_dir='{LEDGER_VENV}'"))
                && text.lines().any(|l| l.trim() == "dh_venv_package='ledger'"),
            || text.clone(),
        );
    }
    let paths = deb_paths(&deb);
    checks.check(
        label,
        &format!("the venv ships at {LEDGER_VENV}"),
        paths
            .iter()
            .any(|p| p == &format!("{LEDGER_VENV}/bin/ledger"))
            && paths
                .iter()
                .all(|p| !p.starts_with("/opt") && !p.starts_with("/usr/lib/ledger/")),
        || paths.join("\n"),
    );
    report.push(figures);

    let installed = run_unchecked(Command::new("dpkg").arg("-i").arg(&deb));
    checks.check(label, "ledger installs", installed.status.success(), || {
        text(&installed)
    });
    let cfg = fs::read_to_string(format!("{LEDGER_VENV}/pyvenv.cfg")).unwrap_or_default();
    checks.check(
        label,
        "pyvenv.cfg says include-system-site-packages = true",
        cfg.lines()
            .any(|l| l.trim() == "include-system-site-packages = true"),
        || cfg.clone(),
    );
    checks.check(
        label,
        "pyvenv.cfg names no build directory",
        !cfg.contains(dir.to_string_lossy().as_ref()) && !cfg.contains("/debian/"),
        || cfg.clone(),
    );
    let mut shebangs = Vec::new();
    for entry in fs::read_dir(format!("{LEDGER_VENV}/bin"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
    {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let bytes = fs::read(entry.path()).unwrap_or_default();
            if bytes.starts_with(b"#!") {
                let line = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap())
                    .into_owned();
                shebangs.push((entry.path(), line));
            }
        }
    }
    checks.check(
        label,
        &format!("every script of bin/ runs #!{LEDGER_VENV}/bin/python"),
        !shebangs.is_empty()
            && shebangs.iter().all(|(_, l)| {
                l.strip_prefix(&format!("#!{LEDGER_VENV}/bin/python"))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('3'))
            }),
        || format!("{shebangs:#?}"),
    );
    let ran = try_run("/usr/bin/ledger", &[]);
    let out = String::from_utf8_lossy(&ran.stdout).into_owned();
    checks.check(
        label,
        "the console script runs and imports wheel from Debian's python3-wheel",
        ran.status.success()
            && out.contains(&format!("ledger in {LEDGER_VENV}\n"))
            && out.contains("from /usr/lib/python3/dist-packages/wheel")
            && out.contains("archives with wheel.wheelfile.WheelFile")
            && out.contains("2 notices"),
        || text(&ran),
    );
    let leaking = files_naming(Path::new(LEDGER_VENV), dir.to_string_lossy().as_ref());
    checks.check(
        label,
        "no installed file names the build directory",
        leaking.is_empty(),
        || format!("{leaking:?}"),
    );
    let purged = try_run("dpkg", &["--purge", "ledger"]);
    checks.check(label, "ledger is purged", purged.status.success(), || {
        text(&purged)
    });
    for left in [LEDGER_VENV, "/usr/bin/ledger"] {
        checks.check(
            label,
            &format!("purge leaves no {left}"),
            !Path::new(left).exists(),
            || files_listing(Path::new(left)),
        );
    }
}

#[test]
fn client_packages_build_install_upgrade_trigger_and_purge_unedited_and_migrated() {
    let tmp = scratch("clients-");
    let tools = common::build_tool_packages(&tmp.path().join("tools"));
    let _lock = dpkg_lock();
    purge_if_installed("dh-virtualenv");
    let _installed = InstalledTools::install(&tools);

    let mut checks = Checks::default();
    let mut report = Vec::new();
    for migrated in [false, true] {
        let mode = if migrated { "migrated" } else { "unedited" };
        let clean_relay = || {
            purge_if_installed("relay");
            let _ = fs::remove_dir_all("/var/lib/relay");
        };
        clean_relay();
        checks.steps(
            &format!("relay ({mode})"),
            |checks| relay_steps(checks, tmp.path(), migrated, &mut report),
            clean_relay,
        );
        purge_if_installed("ledger");
        checks.steps(
            &format!("ledger ({mode})"),
            |checks| ledger_steps(checks, tmp.path(), migrated, &mut report),
            || purge_if_installed("ledger"),
        );
    }
    for figures in &report {
        eprintln!(
            "{}: Depends: {}; lintian {} E, {} W; files naming the build directory: {}",
            figures.label,
            figures.depends,
            figures.errors.len(),
            figures.warnings,
            figures.naming_build_dir.len()
        );
    }
    assert!(
        checks.failed.is_empty(),
        "{} checks passed, {} failed:\n{}",
        checks.passed,
        checks.failed.len(),
        checks.failed.join("\n")
    );
}

#[test]
fn an_sdist_recording_its_build_directory_fails_the_audit() {
    let tmp = scratch("clients-audit-");
    let package = common::SourcePackage::new(tmp.path(), "wherebuilt-user");
    package.write("requirements.txt", "greetlib==1.0\nwherebuilt==1.0\n");
    let output = package.dpkg_buildpackage_unchecked(&["-b"], &[]);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "the build succeeded though wherebuilt's module names the directory pip built it in:\n{log}"
    );
    // The directory pip built the sdist in is this build's own (its TMPDIR is inside the source
    // package), so the error names the file and the source package's directory.
    let top = package.dir.to_string_lossy().into_owned();
    let error: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("wherebuilt/_built.py") && l.contains(&top))
        .collect();
    assert!(
        !error.is_empty(),
        "the build failed without naming wherebuilt/_built.py and {top}:\n{log}"
    );
    eprintln!("the audit's error: {error:#?}");
}

#[test]
fn a_migrated_control_without_rustvenv_depends_is_warned_about() {
    // Step 1 of "Moving to dh-rustvenv" half done: the Build-Depends changed, Depends not.
    let tmp = scratch("clients-forgotten-");
    let package = common::SourcePackage::new(tmp.path(), "forgetful");
    edit(
        &package.dir,
        "debian/control",
        "Depends: ${rustvenv:Depends}, ${misc:Depends}",
        "Depends: ${misc:Depends}",
    );
    let output = package.dpkg_buildpackage_unchecked(&["-b"], &[]);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    let warning = lines_with(&log, &["add ${rustvenv:Depends} to the Depends field"]);
    assert!(
        !warning.is_empty(),
        "no warning that debian/control lacks ${{rustvenv:Depends}}:\n{log}"
    );
    eprintln!("the warning: {warning:#?}");
}

#[test]
fn a_venv_named_with_install_suffix_under_usr_lib_builds_with_readmes_exclusions() {
    // ledger's layout (a venv under /usr/lib, named other than its package), with a wheel whose
    // libraries are bundled the way auditwheel bundles them. README: the add-on's -X covers
    // /usr/lib/<package>/ only, so such a venv gets its own -X in override targets of the ELF tools;
    // with them, dh_dwz and dh_strip leave the bundled libraries to dh_rustvenv, which keeps the one
    // stripping would break as it is.
    let tmp = scratch("clients-suffix-");
    let package = common::SourcePackage::new(tmp.path(), "booksuite");
    package.write(
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\nbundled==1.0\n",
    );
    let mut rules = format!(
        "export DH_RUSTVENV_INSTALL_ROOT=/usr/lib/\n\n\
         override_dh_rustvenv:\n\tdh_rustvenv --install-suffix booksuite-env {}\n\n\
         # The venv is not at /usr/lib/booksuite: keep the ELF tools out of it (README).\n",
        common::OFFLINE_ARGS
    );
    for tool in [
        "dh_strip_nondeterminism",
        "dh_dwz",
        "dh_strip",
        "dh_makeshlibs",
        "dh_shlibdeps",
    ] {
        rules.push_str(&format!(
            "override_{tool}:\n\t{tool} -Xusr/lib/booksuite-env/\n\n"
        ));
    }
    package.rules(&rules);
    let output = package.dpkg_buildpackage_unchecked(&["-b"], &[]);
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dpkg-buildpackage"), &output)
    );
    let debs = package.debs();
    let deb = &debs.iter().find(|(n, _)| n == "booksuite").unwrap().1;
    let extracted = tmp.path().join("deb");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let site = extracted.join("usr/lib/booksuite-env/lib/python3.11/site-packages");
    let imported = run_unchecked(
        Command::new("/usr/bin/python3")
            .args(["-c", "import sys; sys.path.insert(0, sys.argv[1]); import bundled; print(bundled.total())"])
            .arg(&site),
    );
    assert!(imported.status.success(), "{}", text(&imported));
}
