//! Source packages written for dh-virtualenv 1.2.2's build system (`dh $@ --buildsystem=dh_virtualenv`)
//! build with no edit once the dh-rustvenv-virtualenv drop-in is installed, and again once migrated to
//! dh-rustvenv as README says; each installs, runs its console script, names no build directory, depends
//! on its python3.X and purges to nothing. Two sequence packages written for dh-virtualenv build too:
//! one exporting the build system's variables, which dh_virtualenv never read, and one with build
//! output committed in debian/ and .pybuild/, none of which reaches the package.
//!
//! The fixtures are written the way users write them:
//! - legacy-web: `dh $@ --buildsystem=dh_virtualenv`, nothing exported, a setup.py, greetlib and fastsum
//!   (a C extension linking zlib) in requirements.txt, a binary package named unlike the source (the
//!   venv is named after the source: /usr/share/python/legacy-web), a link into /usr/bin;
//! - legacy-api: the same build system with `DH_VIRTUALENV_INSTALL_ROOT=/usr/lib/` (trailing slash),
//!   `DH_VIRTUALENV_ARGUMENTS=--python python3 --system-site-packages`, `DH_PIP_EXTRA_ARGS`,
//!   `DH_REQUIREMENTS_FILE` and `DH_UPGRADE_WHEEL`;
//! - legacy-cli: the sequence (`--with python-virtualenv`) with `DH_VIRTUALENV_ARGUMENTS=--python python3
//!   --builtin-venv` exported and `dh_virtualenv --python python3` in override_dh_virtualenv;
//! - legacy-stale: the sequence with `--buildsystem=pybuild`, and a debian/ holding an old package build
//!   directory, a postinst.debhelper, debian/files, a substvars file, and a .pybuild/ beside it.
//!
//! They install from the tests' local wheelhouse through pip's own PIP_NO_INDEX and PIP_FIND_LINKS,
//! as an offline build machine with a pip configuration would, so their rules stay as written.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    InstalledTools, VERIFY_RECORDS, deb_field, deb_paths, debs_in, describe, dpkg_lock, edit,
    files_naming, lintian_complaints, offline_build_command, purge_if_installed, run,
    run_unchecked, scratch, write,
};

const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
    Files: *\nCopyright: 2026 Legacy Ops\nLicense: Expat\n\nLicense: Expat\n Permission is hereby granted, \
    free of charge, to any person obtaining a copy of this\n software, to deal in the Software without \
    restriction.\n";

/// A Python project `name` with a setup.py and a console script of the same name that greets with
/// greetlib and prints `prefix=<sys.prefix>`, and the debian/ files every fixture has; `control` is
/// debian/control and `rules` debian/rules.
fn project(dir: &Path, name: &str, control: &str, rules: &str) {
    let module = name.replace('-', "_");
    write(
        dir,
        "setup.py",
        &format!(
            "from setuptools import setup\n\nsetup(\n    name=\"{name}\",\n    version=\"1.0\",\n    \
             packages=[\"{module}\"],\n    install_requires=[\"greetlib\"],\n    \
             entry_points={{\"console_scripts\": [\"{name} = {module}:main\"]}},\n)\n"
        ),
        0o644,
    );
    write(
        dir,
        &format!("{module}/__init__.py"),
        &format!(
            "import sys\n\nimport greetlib\n\n\ndef main():\n    print(greetlib.greeting(\"{name}\"))\n    \
             try:\n        import fastsum\n    except ImportError:\n        pass\n    else:\n        \
             print(f\"fastsum crc32 {{fastsum.crc32(b'abc')}}\")\n    print(f\"prefix={{sys.prefix}}\")\n"
        ),
        0o644,
    );
    write(dir, "debian/source/format", "3.0 (native)\n", 0o644);
    write(dir, "debian/copyright", COPYRIGHT, 0o644);
    let source = control
        .lines()
        .find_map(|l| l.strip_prefix("Source: "))
        .unwrap();
    write(
        dir,
        "debian/changelog",
        &format!(
            "{source} (1.0) unstable; urgency=medium\n\n  * Release 1.0.\n\n \
             -- Legacy Ops <ops@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n"
        ),
        0o644,
    );
    write(dir, "debian/control", control, 0o644);
    write(dir, "debian/rules", rules, 0o755);
}

/// legacy-web: dh-virtualenv's build system with its defaults.
fn legacy_web(dir: &Path) {
    project(
        dir,
        "legacy-web",
        "Source: legacy-web\nSection: web\nPriority: optional\nMaintainer: Legacy Ops <ops@example.org>\n\
         Build-Depends: debhelper-compat (= 12), dh-virtualenv (>= 1.0), python3-venv, python3-dev, zlib1g-dev\n\
         Standards-Version: 4.5.0\n\n\
         Package: legacy-web-server\nArchitecture: any\nDepends: ${shlibs:Depends}, ${misc:Depends}\n\
         Description: web front of the legacy fleet\n The web front that the legacy fleet's users see.\n",
        "#!/usr/bin/make -f\n\n%:\n\tdh $@ --buildsystem=dh_virtualenv\n",
    );
    write(
        dir,
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-web-server.links",
        "usr/share/python/legacy-web/bin/legacy-web usr/bin/legacy-web\n",
        0o644,
    );
}

/// legacy-web migrated as README's "Moving from dh-virtualenv's build system" says.
fn migrate_legacy_web(dir: &Path) {
    edit(
        dir,
        "debian/control",
        "dh-virtualenv (>= 1.0)",
        "dh-sequence-rustvenv",
    );
    edit(
        dir,
        "debian/control",
        "Depends: ${shlibs:Depends}",
        "Depends: ${rustvenv:Depends}, ${shlibs:Depends}",
    );
    edit(
        dir,
        "debian/rules",
        "%:\n\tdh $@ --buildsystem=dh_virtualenv\n",
        "export DH_RUSTVENV_INSTALL_ROOT = /usr/share/python\n\n%:\n\tdh $@\n\n\
         override_dh_rustvenv:\n\tdh_rustvenv --install-suffix legacy-web\n",
    );
}

/// legacy-api: dh-virtualenv's build system with its variables set.
fn legacy_api(dir: &Path) {
    project(
        dir,
        "legacy-api",
        "Source: legacy-api\nSection: web\nPriority: optional\nMaintainer: Legacy Ops <ops@example.org>\n\
         Build-Depends: debhelper-compat (= 13), dh-virtualenv, python3-venv\n\
         Standards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
         Package: legacy-api\nArchitecture: any\nDepends: ${misc:Depends}, ${shlibs:Depends}\n\
         Description: API of the legacy fleet\n The API that the legacy fleet's agents call.\n",
        "#!/usr/bin/make -f\n\n\
         export DH_VIRTUALENV_INSTALL_ROOT=/usr/lib/\n\
         export DH_VIRTUALENV_ARGUMENTS=--python python3 --system-site-packages\n\
         export DH_REQUIREMENTS_FILE=requirements/prod.txt\n\
         export DH_PIP_EXTRA_ARGS=--no-cache-dir --progress-bar=off\n\
         export DH_UPGRADE_WHEEL=\n\n\
         %:\n\tdh $@ --buildsystem=dh_virtualenv\n",
    );
    write(dir, "requirements/prod.txt", "greetlib==1.0\n", 0o644);
}

/// legacy-api migrated as README says: the variables become dh_rustvenv's options.
fn migrate_legacy_api(dir: &Path) {
    edit(
        dir,
        "debian/control",
        "dh-virtualenv,",
        "dh-sequence-rustvenv,",
    );
    edit(
        dir,
        "debian/control",
        "Depends: ${misc:Depends}",
        "Depends: ${rustvenv:Depends}, ${misc:Depends}",
    );
    edit(
        dir,
        "debian/rules",
        "export DH_VIRTUALENV_ARGUMENTS=--python python3 --system-site-packages\n\
         export DH_REQUIREMENTS_FILE=requirements/prod.txt\n\
         export DH_PIP_EXTRA_ARGS=--no-cache-dir --progress-bar=off\n\
         export DH_UPGRADE_WHEEL=\n\n\
         %:\n\tdh $@ --buildsystem=dh_virtualenv\n",
        "\n%:\n\tdh $@\n\noverride_dh_rustvenv:\n\tdh_rustvenv --install-suffix legacy-api --python python3 \
         --use-system-packages \\\n\t\t--requirements requirements/prod.txt --extra-pip-arg=--no-cache-dir \
         --extra-pip-arg=--progress-bar=off \\\n\t\t--preinstall wheel\n",
    );
}

/// legacy-cli: the sequence, with the build system's variables exported as well.
fn legacy_cli(dir: &Path) {
    project(
        dir,
        "legacy-cli",
        "Source: legacy-cli\nSection: utils\nPriority: optional\nMaintainer: Legacy Ops <ops@example.org>\n\
         Build-Depends: debhelper-compat (= 12), dh-virtualenv, python3-venv\n\
         Standards-Version: 4.5.0\n\n\
         Package: legacy-cli\nArchitecture: all\nDepends: ${misc:Depends}\n\
         Description: command line of the legacy fleet\n The command line the fleet's operators use.\n",
        "#!/usr/bin/make -f\n\n\
         export DH_VIRTUALENV_ARGUMENTS=--python python3 --builtin-venv\n\n\
         %:\n\tdh $@ --with python-virtualenv\n\n\
         override_dh_auto_configure:\n\n\
         override_dh_virtualenv:\n\tdh_virtualenv --python python3\n",
    );
}

/// legacy-stale: the sequence with pybuild, and build output committed by mistake.
fn legacy_stale(dir: &Path) {
    project(
        dir,
        "legacy-stale",
        "Source: legacy-stale\nSection: utils\nPriority: optional\nMaintainer: Legacy Ops <ops@example.org>\n\
         Build-Depends: debhelper-compat (= 13), dh-python, python3-all, python3-setuptools, dh-virtualenv,\n \
         python3-venv\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
         Package: legacy-stale\nArchitecture: all\nDepends: ${misc:Depends}\n\
         Description: reports of the legacy fleet\n The reports the fleet's operators read.\n",
        "#!/usr/bin/make -f\n\n%:\n\tdh $@ --with python-virtualenv --buildsystem=pybuild\n\n\
         override_dh_virtualenv:\n\tdh_virtualenv --python /usr/bin/python3\n",
    );
    write(
        dir,
        "debian/legacy-stale/opt/venvs/legacy-stale/STALE-venv-file",
        "stale\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-stale/usr/share/doc/legacy-stale/STALE-doc",
        "stale\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-stale.postinst.debhelper",
        "# Automatically added by dh_virtualenv\necho STALE-SNIPPET\n# End automatically added section\n",
        0o644,
    );
    write(
        dir,
        "debian/files",
        "legacy-stale_0.9_all.deb utils optional\n",
        0o644,
    );
    write(
        dir,
        "debian/legacy-stale.substvars",
        "misc:Depends=stale-package\n",
        0o644,
    );
    write(
        dir,
        ".pybuild/cpython3_3.11_legacy-stale/build/STALE-module.py",
        "stale = True\n",
        0o644,
    );
}

/// Runs dpkg-buildpackage in `dir` with the installed tools, offline from the tests' wheelhouse, with
/// a build machine's PATH (so `--python python3` is Debian's, whatever interpreters this machine has
/// in front of it).
fn build(dir: &Path) -> Output {
    let mut command = offline_build_command(dir);
    command
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env_remove("DH_RUSTVENV_INSTALL_ROOT")
        .env_remove("DH_VIRTUALENV_INSTALL_ROOT");
    run_unchecked(&mut command)
}

/// Builds the source package at `dir` and returns the .deb of `package` and the build's output.
fn build_deb(dir: &Path, package: &str) -> (PathBuf, String) {
    let output = build(dir);
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dpkg-buildpackage"), &output)
    );
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let debs = debs_in(dir.parent().unwrap());
    let deb = debs
        .iter()
        .find(|(n, _)| n == package)
        .unwrap_or_else(|| panic!("no .deb of {package} in {debs:?}"))
        .1
        .clone();
    (deb, log)
}

/// What a user checks of one built package, for the closing report.
struct Checked {
    name: String,
    depends: String,
    errors: Vec<String>,
    warnings: usize,
    leaking_files: usize,
    records: String,
}

/// Builds the source package at `dir`, checks the package, installs it, runs `entry` and checks what
/// it prints (it must name the venv as its prefix), checks every RECORD, then purges it and checks
/// that nothing of the venv is left.
fn build_install_run_purge(dir: &Path, package: &str, venv: &str, entry: &str) -> Checked {
    let (deb, _) = build_deb(dir, package);
    let complaints = lintian_complaints(&deb);
    eprintln!("{package} from {}: lintian: {complaints:#?}", dir.display());
    let depends = deb_field(&deb, "Depends");
    assert!(depends.contains("python3.11"), "{depends}");
    let paths = deb_paths(&deb);
    assert!(
        paths.iter().any(|p| p == &format!("{venv}/bin/python")),
        "no {venv}/bin/python in the package: {paths:?}"
    );

    purge_if_installed(package);
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let ran = run(Command::new(entry).current_dir("/"));
    let out = String::from_utf8_lossy(&ran.stdout);
    assert!(
        out.contains(&format!("hello, {}", dir_project(dir))),
        "{out}"
    );
    assert!(out.contains(&format!("prefix={venv}")), "{out}");
    // The venv's own distributions (with --system-site-packages, sys.path has the system's too).
    let verify = VERIFY_RECORDS.replace(
        "metadata.distributions()",
        "metadata.distributions(path=[p for p in sys.path if p.startswith(sys.prefix)])",
    );
    let records = run(Command::new(format!("{venv}/bin/python"))
        .args(["-c", &verify])
        .current_dir("/"));
    let records = String::from_utf8_lossy(&records.stdout).trim().to_owned();
    let top = dir.to_string_lossy().into_owned();
    let leaking = files_naming(Path::new(venv), &top);
    assert!(leaking.is_empty(), "files naming {top}: {leaking:?}");
    let checked = Checked {
        name: format!(
            "{package} ({})",
            dir.parent()
                .unwrap()
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ),
        depends,
        errors: complaints
            .iter()
            .filter(|c| c.starts_with("E: "))
            .cloned()
            .collect(),
        warnings: complaints.iter().filter(|c| c.starts_with("W: ")).count(),
        leaking_files: leaking.len(),
        records,
    };
    run(Command::new("dpkg").args(["--purge", package]));
    assert!(!Path::new(venv).exists(), "{venv} is left after purge");
    checked
}

/// The project's name, from its directory `<name>-1.0`.
fn dir_project(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    name.trim_end_matches("-1.0").to_owned()
}

#[test]
fn dh_virtualenv_build_system_packages_build_unedited_and_migrated() {
    let tmp = scratch("buildsystem-");
    let tools = common::build_tool_packages(&tmp.path().join("tools"));
    let _lock = dpkg_lock();
    purge_if_installed("dh-virtualenv");
    let _installed = InstalledTools::install(&tools);

    let mut report = Vec::new();
    for migrated in [false, true] {
        let kind = if migrated { "migrated" } else { "unedited" };
        let web = tmp.path().join(kind).join("web/legacy-web-1.0");
        legacy_web(&web);
        if migrated {
            migrate_legacy_web(&web);
        }
        let checked = build_install_run_purge(
            &web,
            "legacy-web-server",
            "/usr/share/python/legacy-web",
            "/usr/bin/legacy-web",
        );
        assert!(checked.depends.contains("zlib1g"), "{}", checked.depends);
        report.push(checked);

        let api = tmp.path().join(kind).join("api/legacy-api-1.0");
        legacy_api(&api);
        if migrated {
            migrate_legacy_api(&api);
        }
        report.push(build_install_run_purge(
            &api,
            "legacy-api",
            "/usr/lib/legacy-api",
            "/usr/lib/legacy-api/bin/legacy-api",
        ));
    }

    // The sequence ignores the build system's variables, as dh_virtualenv 1.2.2 does.
    let cli = tmp.path().join("sequence/cli/legacy-cli-1.0");
    legacy_cli(&cli);
    let (deb, _) = build_deb(&cli, "legacy-cli");
    let paths = deb_paths(&deb);
    assert!(
        paths
            .iter()
            .any(|p| p == "/opt/venvs/legacy-cli/bin/legacy-cli"),
        "{paths:?}"
    );
    let cli_depends = deb_field(&deb, "Depends");
    assert!(cli_depends.contains("python3.11"), "{cli_depends}");

    // Build output committed in debian/ and .pybuild/ reaches neither the package nor the tree.
    let stale = tmp.path().join("sequence/stale/legacy-stale-1.0");
    legacy_stale(&stale);
    let (deb, log) = build_deb(&stale, "legacy-stale");
    let paths = deb_paths(&deb);
    let stale_paths: Vec<&String> = paths.iter().filter(|p| p.contains("STALE")).collect();
    assert!(stale_paths.is_empty(), "{stale_paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p == "/opt/venvs/legacy-stale/bin/legacy-stale"),
        "{paths:?}"
    );
    let stale_depends = deb_field(&deb, "Depends");
    assert!(!stale_depends.contains("stale-package"), "{stale_depends}");
    let control = tmp.path().join("sequence/stale/control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let postinst = fs::read_to_string(control.join("postinst")).unwrap_or_default();
    assert!(!postinst.contains("STALE-SNIPPET"), "{postinst}");
    assert!(
        !stale
            .join(".pybuild/cpython3_3.11_legacy-stale/build/STALE-module.py")
            .exists(),
        "the committed .pybuild/ was not cleaned:\n{log}"
    );
    let mut clean = Command::new("debian/rules");
    clean.arg("clean").current_dir(&stale);
    run(&mut clean);
    assert!(
        !stale.join(".pybuild").exists(),
        "debian/rules clean left .pybuild/"
    );
    assert!(!stale.join("debian/legacy-stale").exists());

    for checked in &report {
        eprintln!(
            "{}: Depends: {}; lintian {} E, {} W; installed files naming the build directory: {}; RECORD: {}",
            checked.name,
            checked.depends,
            checked.errors.len(),
            checked.warnings,
            checked.leaking_files,
            checked.records,
        );
    }
    eprintln!("legacy-cli (sequence, DH_VIRTUALENV_ARGUMENTS ignored): Depends: {cli_depends}");
    eprintln!("legacy-stale (sequence, stale debian/ and .pybuild/): Depends: {stale_depends}");
    for checked in &report {
        assert!(
            checked.errors.is_empty(),
            "{}: {:?}",
            checked.name,
            checked.errors
        );
    }
}
