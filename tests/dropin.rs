//! Source packages written for dh-virtualenv build with no edit once the dh-rustvenv-virtualenv
//! drop-in is installed, and again once migrated to dh-rustvenv as README says; the packages install,
//! run, name no build directory and purge cleanly.
//!
//! The two fixtures are written the way real dh-virtualenv packages are, overrides and all:
//! - legacy-agent: compat 11, `--with python3,python-virtualenv --buildsystem=pybuild`, a C program
//!   built from a tarball in override_dh_auto_configure, pip, setuptools, wheel and every dist-info
//!   deleted after dh_virtualenv, the program copied into the venv afterwards, a triggers file, a
//!   link into /usr/sbin, a unit and an empty override_dh_lintian;
//! - legacy-portal: `--with python-virtualenv`, dh_virtualenv called from a helper script with a
//!   hashed requirements file, --no-deps and --extras, the staged interpreter run to generate the
//!   default configuration, debian/install filling the venv's lib/ first, an empty override_dh_strip,
//!   and override_dh_shlibdeps moving libpq5 from Depends to Recommends.
//!
//! They install from the tests' local wheelhouse through pip's own PIP_NO_INDEX and PIP_FIND_LINKS,
//! as an offline build machine with a pip configuration would, so their rules stay as written.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{
    InstalledTools, deb_field, deb_paths, debs_in, describe, dpkg_lock, edit, elf_sections,
    files_naming, lintian_complaints, offline_build_command, purge_if_installed, run,
    run_unchecked, scratch, sha256, wheelhouse, write,
};

/// debian/source/format, debian/copyright and debian/changelog of a native source package.
fn write_source_files(dir: &Path, source: &str, version: &str) {
    write(dir, "debian/source/format", "3.0 (native)\n", 0o644);
    write(dir, "debian/copyright", COPYRIGHT, 0o644);
    let entry =
        format!("{source} ({version}) unstable; urgency=medium\n\n  * Release {version}.\n\n");
    write(dir, "debian/changelog", &(entry + CHANGELOG_TRAILER), 0o644);
}

const MAINTAINER: &str = "Maintainer: Legacy Ops <ops@example.org>";
const CHANGELOG_TRAILER: &str =
    " -- Legacy Ops <ops@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n";
const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
    Files: *\nCopyright: 2026 Legacy Ops\nLicense: Expat\n\nLicense: Expat\n Permission is hereby granted, \
    free of charge, to any person obtaining a copy of this\n software, to deal in the Software without \
    restriction.\n";

/// The fixture written like project A, at `dir`.
fn legacy_agent(dir: &Path) {
    write(
        dir,
        "setup.py",
        "from setuptools import setup\n\nsetup(\n    name=\"legacy-agent\",\n    version=\"2.3\",\n    \
         packages=[\"legacy_agent\"],\n    install_requires=[\"greetlib\"],\n    \
         entry_points={\"console_scripts\": [\"legacy-agent = legacy_agent:main\"]},\n)\n",
        0o644,
    );
    write(
        dir,
        "legacy_agent/__init__.py",
        "\"\"\"The agent: greets, and runs its C helper from the venv's bin/.\"\"\"\n\nimport os\nimport subprocess\nimport sys\n\n\
         import greetlib\n\n\ndef main():\n    print(greetlib.greeting(\"legacy-agent\"))\n    \
         pinger = os.path.join(sys.prefix, \"bin\", \"pinger\")\n    \
         print(subprocess.run([pinger], capture_output=True, text=True, check=True).stdout.strip())\n    \
         print(f\"prefix={sys.prefix}\")\n",
        0o644,
    );
    write(dir, "requirements.txt", "greetlib==1.0\n", 0o644);
    // The C program ships as a tarball in the source, as vendored tools often do.
    let tools = dir.join("tools-src/pinger-1.0");
    write(
        &tools,
        "pinger.c",
        "#include <stdio.h>\n#include <zlib.h>\n\nint main(void) {\n    printf(\"pinger with zlib %s\\n\", zlibVersion());\n    return 0;\n}\n",
        0o644,
    );
    write(
        &tools,
        "Makefile",
        "pinger: pinger.c\n\t$(CC) $(CPPFLAGS) $(CFLAGS) -g $(LDFLAGS) -o $@ pinger.c -lz\n",
        0o644,
    );
    fs::create_dir_all(dir.join("tools")).unwrap();
    run(Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "-czf",
        ])
        .arg(dir.join("tools/pinger-1.0.tar.gz"))
        .arg("-C")
        .arg(dir.join("tools-src"))
        .arg("pinger-1.0"));
    fs::remove_dir_all(dir.join("tools-src")).unwrap();

    write(dir, "debian/compat", "11\n", 0o644);
    write_source_files(dir, "legacy-agent", "2.3");
    write(
        dir,
        "debian/control",
        &format!(
            "Source: legacy-agent\nSection: admin\nPriority: optional\n{MAINTAINER}\n\
             Build-Depends: debhelper (>= 11), dh-python, python3-all, python3-setuptools, python3-venv,\n \
             dh-virtualenv (>= 1.2), zlib1g-dev\nStandards-Version: 4.1.3\n\n\
             Package: legacy-agent\nArchitecture: any\nDepends: ${{shlibs:Depends}}, ${{misc:Depends}}\n\
             Description: agent of the legacy fleet\n The agent that every host of the legacy fleet runs.\n"
        ),
        0o644,
    );
    write(
        dir,
        "debian/rules",
        r#"#!/usr/bin/make -f
# legacy-agent, packaged with dh-virtualenv.

export DH_VIRTUALENV_INSTALL_ROOT=/opt
PKG := legacy-agent
VENV := debian/$(PKG)/opt/$(PKG)
PINGER := build-tools/pinger-1.0

%:
	dh $@ --with python3,python-virtualenv --buildsystem=pybuild

override_dh_auto_configure:
	mkdir -p build-tools
	tar -xzf tools/pinger-1.0.tar.gz -C build-tools
	$(MAKE) -C $(PINGER)
	dh_auto_configure

override_dh_auto_install:
	dh_auto_install
	install -D -m 755 $(PINGER)/pinger $(VENV)/bin/pinger

override_dh_virtualenv:
	dh_virtualenv --install-suffix $(PKG) --builtin-venv --python /usr/bin/python3 \
		--upgrade-pip-to=23.0.1 --preinstall=setuptools==66.1.1 --preinstall=wheel==0.38.4 \
		--extra-pip-arg --no-cache-dir --extra-pip-arg --no-compile
	# No installers on production hosts.
	rm -rf $(VENV)/bin/pip* $(VENV)/bin/wheel
	cd $(VENV)/lib/python3*/site-packages && rm -rf pip setuptools wheel pkg_resources \
		_distutils_hack distutils-precedence.pth
	find $(VENV) -name '*.dist-info' -prune -exec rm -rf {} +
	install -m 755 $(PINGER)/pinger $(VENV)/bin/pinger

override_dh_lintian:

override_dh_clean:
	dh_clean
	rm -rf build-tools
"#,
        0o755,
    );
    write(
        dir,
        "debian/legacy-agent.triggers",
        "interest-noawait /usr/bin/python3.11\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-agent.links",
        "opt/legacy-agent/bin/legacy-agent usr/sbin/legacy-agent\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-agent.service",
        "[Unit]\nDescription=Legacy agent\n\n[Service]\nExecStart=/opt/legacy-agent/bin/legacy-agent\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        0o644,
    );
}

/// The fixture written like project B, at `dir`; its hashed requirements name the wheelhouse's files.
fn legacy_portal(dir: &Path, wheelhouse: &Path) {
    write(
        dir,
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"legacy-portal\"\nversion = \"4.1\"\ndependencies = [\"greetlib\"]\n\n\
         [project.optional-dependencies]\npostgres = [\"pgver\"]\n\n[project.scripts]\n\
         legacy-portal = \"legacy_portal:main\"\nlegacy-portal-defaults = \"legacy_portal.defaults:main\"\n\n\
         [tool.setuptools]\npackage-dir = {\"\" = \"src\"}\npackages = [\"legacy_portal\"]\n",
        0o644,
    );
    write(
        dir,
        "src/legacy_portal/__init__.py",
        "\"\"\"The portal: greets, and reports PostgreSQL support when libpq is there.\"\"\"\n\nimport greetlib\n\n\n\
         def main():\n    print(greetlib.greeting(\"legacy-portal\"))\n    try:\n        import pgver\n    \
         except ImportError as e:  # libpq5 is only recommended\n        print(f\"no PostgreSQL support: {e}\")\n    \
         else:\n        print(f\"libpq {pgver.libpq_version()}\")\n",
        0o644,
    );
    write(
        dir,
        "src/legacy_portal/defaults.py",
        "\"\"\"Prints the default configuration.\"\"\"\n\nimport legacy_portal\n\n\n\
         def main():\n    print(\"[portal]\\nlisten = 127.0.0.1:8000\\n\")\n\n\n\
         if __name__ == \"__main__\":\n    main()\n",
        0o644,
    );
    let hash = |prefix: &str| sha256(&common::wheelhouse_file(prefix));
    write(
        dir,
        "requirements.hashed.txt",
        &format!(
            "greetlib==1.0 \\\n    --hash=sha256:{}\npgver==1.0 \\\n    --hash=sha256:{}\n",
            hash("greetlib-"),
            hash("pgver-")
        ),
        0o644,
    );
    assert!(wheelhouse.join("greetlib-1.0-py3-none-any.whl").is_file());
    write_source_files(dir, "legacy-portal", "4.1");
    write(
        dir,
        "debian/control",
        &format!(
            "Source: legacy-portal\nSection: web\nPriority: optional\n{MAINTAINER}\n\
             Build-Depends: debhelper-compat (= 12), dh-virtualenv, python3-venv, python3-dev, libpq-dev\n\
             Standards-Version: 4.5.0\nRules-Requires-Root: no\n\n\
             Package: legacy-portal\nArchitecture: any\nDepends: ${{shlibs:Depends}}, ${{misc:Depends}}\n\
             Recommends: ${{shlibs:Recommends}}\n\
             Description: portal of the legacy fleet\n The web portal of the legacy fleet.\n"
        ),
        0o644,
    );
    write(
        dir,
        "debian/rules",
        r#"#!/usr/bin/make -f

%:
	dh $@ --with python-virtualenv

override_dh_virtualenv:
	debian/build-venv.sh

# We don't want to strip: the extension modules are debugged in production.
override_dh_strip:

# libpq5 is only needed for the optional PostgreSQL backend.
override_dh_shlibdeps:
	dh_shlibdeps -- -xlibpq5
	echo 'shlibs:Recommends=libpq5' >> debian/legacy-portal.substvars
"#,
        0o755,
    );
    write(
        dir,
        "debian/build-venv.sh",
        r#"#!/bin/sh
# Builds the venv; called from override_dh_virtualenv.
set -e
PKG=legacy-portal
VENV=debian/$PKG/opt/venvs/$PKG
dh_virtualenv \
    --install-suffix "$PKG" \
    --python /usr/bin/python3 \
    --preinstall "setuptools==66.1.1" \
    --extra-pip-arg --no-deps \
    --extra-pip-arg --no-cache-dir \
    --extra-pip-arg --progress-bar=off \
    --extras postgres \
    --requirements requirements.hashed.txt
# The default configuration comes from the application itself.
mkdir -p debian/$PKG/etc/legacy-portal
"$VENV/bin/python" -m legacy_portal.defaults > debian/$PKG/etc/legacy-portal/portal.ini
"#,
        0o755,
    );
    write(
        dir,
        "debian/portal-backup.sh",
        "#!/bin/sh\n# Backs the portal's data up.\nexec tar -czf /var/backups/legacy-portal.tar.gz /var/lib/legacy-portal\n",
        0o755,
    );
    write(
        dir,
        "debian/install",
        "debian/portal-backup.sh opt/venvs/legacy-portal/lib/\n",
        0o644,
    );
}

/// The steps of README's "Moving from dh-virtualenv" that every package takes: Build-Depends
/// `build_depends` becomes dh-sequence-rustvenv, Depends gets ${rustvenv:Depends}, `with` (the
/// `dh $@` options naming python-virtualenv) becomes `with_now`, and override_dh_virtualenv becomes
/// override_dh_rustvenv.
fn migrate(dir: &Path, build_depends: &str, with: &str, with_now: &str) {
    edit(dir, "debian/control", build_depends, "dh-sequence-rustvenv");
    edit(
        dir,
        "debian/control",
        "Depends: ${shlibs:Depends}",
        "Depends: ${rustvenv:Depends}, ${shlibs:Depends}",
    );
    edit(dir, "debian/rules", with, with_now);
    edit(
        dir,
        "debian/rules",
        "override_dh_virtualenv:",
        "override_dh_rustvenv:",
    );
}

/// legacy-agent migrated as README's "Moving from dh-virtualenv" says.
fn migrate_legacy_agent(dir: &Path) {
    migrate(
        dir,
        "dh-virtualenv (>= 1.2)",
        "--with python3,python-virtualenv",
        "--with python3",
    );
    edit(dir, "debian/rules", "\tdh_virtualenv ", "\tdh_rustvenv ");
}

/// legacy-portal migrated as README's "Moving from dh-virtualenv" says; its libpq5 demotion becomes
/// --recommends.
fn migrate_legacy_portal(dir: &Path) {
    migrate(dir, "dh-virtualenv", " --with python-virtualenv", "");
    edit(
        dir,
        "debian/control",
        "${shlibs:Recommends}",
        "${rustvenv:Recommends}",
    );
    edit(
        dir,
        "debian/rules",
        "\n# libpq5 is only needed for the optional PostgreSQL backend.\noverride_dh_shlibdeps:\n\
         \tdh_shlibdeps -- -xlibpq5\n\techo 'shlibs:Recommends=libpq5' >> debian/legacy-portal.substvars\n",
        "",
    );
    edit(
        dir,
        "debian/build-venv.sh",
        "dh_virtualenv \\\n",
        "dh_rustvenv \\\n    --recommends libpq5 \\\n",
    );
}

/// Runs dpkg-buildpackage in `dir` with the installed tools, offline from the tests' wheelhouse.
fn build(dir: &Path) -> Output {
    run_unchecked(&mut offline_build_command(dir))
}

/// What a user checks of one built package, for the closing report.
struct Checked {
    name: String,
    depends: String,
    recommends: String,
    errors: usize,
    warnings: usize,
    leaking_files: usize,
}

/// Builds the source package at `dir`, checks the package, installs it, runs `entry` and checks what
/// it prints with `expect`, then purges it.
fn build_install_run_purge(
    dir: &Path,
    package: &str,
    venv: &str,
    entry: &str,
    expect: &dyn Fn(&str),
) -> Checked {
    let output = build(dir);
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dpkg-buildpackage"), &output)
    );
    let log = String::from_utf8_lossy(&output.stdout);
    let debs = debs_in(dir.parent().unwrap());
    let deb = &debs.iter().find(|(n, _)| n == package).unwrap().1;
    let complaints = lintian_complaints(deb);
    let mut errors: Vec<&str> = complaints
        .iter()
        .filter(|c| c.starts_with("E: "))
        .map(String::as_str)
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        intended_lintian_errors(package, deb),
        "{package} from {}: lintian: {complaints:#?}",
        dir.display()
    );
    let depends = deb_field(deb, "Depends");
    assert!(depends.contains("python3.11"), "{depends}");
    assert!(
        log.contains("dh_rustvenv_finish"),
        "the late stage did not run:\n{log}"
    );

    purge_if_installed(package);
    run(Command::new("dpkg").arg("-i").arg(deb));
    let ran = run(Command::new(entry).current_dir("/"));
    expect(&String::from_utf8_lossy(&ran.stdout));
    let top = dir.to_string_lossy().into_owned();
    let leaking = files_naming(Path::new(venv), &top);
    assert!(leaking.is_empty(), "files naming {top}: {leaking:?}");
    let checked = Checked {
        name: format!("{package} ({})", dir.file_name().unwrap().to_string_lossy()),
        depends,
        recommends: deb_field(deb, "Recommends"),
        errors: complaints.iter().filter(|c| c.starts_with("E: ")).count(),
        warnings: complaints.iter().filter(|c| c.starts_with("W: ")).count(),
        leaking_files: leaking.len(),
    };
    checked_extra(package, venv);
    run(Command::new("dpkg").args(["--purge", package]));
    assert!(!Path::new(venv).exists(), "{venv} is left after purge");
    checked
}

/// The lintian errors a fixture asks for: legacy-portal's empty override_dh_strip ships its extension
/// modules unstripped; legacy-agent has none.
fn intended_lintian_errors(package: &str, deb: &Path) -> Vec<String> {
    if package != "legacy-portal" {
        return Vec::new();
    }
    let mut extensions: Vec<String> = deb_paths(deb)
        .into_iter()
        .filter(|p| p.contains("/site-packages/") && p.ends_with(".so"))
        .map(|p| format!("E: {package}: unstripped-binary-or-object [{}]", &p[1..]))
        .collect();
    assert!(
        !extensions.is_empty(),
        "{package} ships no extension module"
    );
    extensions.sort_unstable();
    extensions
}

/// The fixture-specific things a user would check once the package is installed.
fn checked_extra(package: &str, venv: &str) {
    if package == "legacy-agent" {
        // Copied into the venv after dh_virtualenv ran: stripped by the late stage.
        let sections = elf_sections(&Path::new(venv).join("bin/pinger"));
        assert!(
            !sections
                .iter()
                .any(|s| s == ".debug_info" || s == ".symtab"),
            "{sections:?}"
        );
    } else {
        // An empty override_dh_strip: nothing stripped.
        let ext = fs::read_dir(format!("{venv}/lib/python3.11/site-packages/pgver"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "so"))
            .unwrap();
        assert!(elf_sections(&ext).iter().any(|s| s == ".symtab"));
        // Put into the venv's lib/ by dh_install before the venv existed.
        assert!(Path::new(venv).join("lib/portal-backup.sh").is_file());
        let config = fs::read_to_string("/etc/legacy-portal/portal.ini").unwrap();
        assert!(config.contains("listen = 127.0.0.1:8000"), "{config}");
    }
}

#[test]
fn dh_virtualenv_packages_build_unedited_with_the_drop_in_and_once_migrated() {
    let tmp = scratch("dropin-");
    let tools = common::build_tool_packages(&tmp.path().join("tools"));
    let _lock = dpkg_lock();
    purge_if_installed("dh-virtualenv");
    let _installed = InstalledTools::install(&tools);

    let mut report = Vec::new();
    for migrated in [false, true] {
        let kind = if migrated { "migrated" } else { "unedited" };
        let agent = tmp.path().join(kind).join("agent/legacy-agent-2.3");
        legacy_agent(&agent);
        if migrated {
            migrate_legacy_agent(&agent);
        }
        report.push(build_install_run_purge(
            &agent,
            "legacy-agent",
            "/opt/legacy-agent",
            "/usr/sbin/legacy-agent",
            &|out| {
                assert!(out.contains("legacy-agent"), "{out}");
                assert!(out.contains("pinger with zlib"), "{out}");
                assert!(out.contains("prefix=/opt/legacy-agent"), "{out}");
            },
        ));
        let agent_depends = &report.last().unwrap().depends;
        assert!(agent_depends.contains("zlib1g"), "{agent_depends}");

        let portal = tmp.path().join(kind).join("portal/legacy-portal-4.1");
        legacy_portal(&portal, wheelhouse());
        if migrated {
            migrate_legacy_portal(&portal);
        }
        report.push(build_install_run_purge(
            &portal,
            "legacy-portal",
            "/opt/venvs/legacy-portal",
            "/opt/venvs/legacy-portal/bin/legacy-portal",
            &|out| {
                assert!(out.contains("legacy-portal"), "{out}");
                assert!(out.contains("libpq "), "{out}");
            },
        ));
        let portal = report.last().unwrap();
        assert!(!portal.depends.contains("libpq5"), "{}", portal.depends);
        assert!(
            portal.recommends.contains("libpq5"),
            "{}",
            portal.recommends
        );
    }
    for checked in &report {
        eprintln!(
            "{}: lintian {} E, {} W; Depends: {}; Recommends: {}; installed files naming the build directory: {}",
            checked.name,
            checked.errors,
            checked.warnings,
            checked.depends,
            checked.recommends,
            checked.leaking_files
        );
    }
}
