//! dh_rustvenv run by hand in a source package, as a debhelper program: package selection, verbose and
//! no-act output, and what bad input does.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Binary, SourcePackage, describe, run, run_unchecked, scratch};

/// The packages a `--no-act --verbose` run says it would build a venv for.
fn planned_packages(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("\t# venv for "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// Command-line arguments, environment, and the packages dh_rustvenv must act on.
type SelectionCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);

fn three_packages(parent: &Path) -> SourcePackage {
    SourcePackage::with_binaries(
        parent,
        "rvsel",
        &[
            Binary::new("rvsel-one", "any"),
            Binary::new("rvsel-two", "any"),
            Binary::new("rvsel-doc", "all"),
        ],
    )
}

#[test]
fn selects_packages_as_dh_listpackages_does() {
    let tmp = scratch("cli-select-");
    let source = three_packages(tmp.path());
    let cases: &[SelectionCase] = &[
        (&[], &[], &["rvsel-one", "rvsel-two", "rvsel-doc"]),
        (&["-a"], &[], &["rvsel-one", "rvsel-two"]),
        (&["-i"], &[], &["rvsel-doc"]),
        (&["-prvsel-two"], &[], &["rvsel-two"]),
        (
            &["--package=rvsel-two", "-p", "rvsel-doc"],
            &[],
            &["rvsel-two", "rvsel-doc"],
        ),
        (&["-Nrvsel-one"], &[], &["rvsel-two", "rvsel-doc"]),
        (
            &["-a", "-O--buildsystem=pybuild"],
            &[],
            &["rvsel-one", "rvsel-two"],
        ),
        (&[], &[("DH_OPTIONS", "-i")], &["rvsel-doc"]),
        (
            &[],
            &[("DH_INTERNAL_OPTIONS", "-a\x1e-O--buildsystem=pybuild")],
            &["rvsel-one", "rvsel-two"],
        ),
        // A package named on the command line wins over dh's internal selection only within it.
        (
            &["-prvsel-one"],
            &[("DH_INTERNAL_OPTIONS", "-a")],
            &["rvsel-one"],
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = source.dh_rustvenv();
        command
            .args(["--no-act", "-v", "--skip-install"])
            .args(*args);
        for (name, value) in *env {
            command.env(name, value);
        }
        let output = run(&mut command);
        assert_eq!(
            planned_packages(&output),
            *expected,
            "args {args:?}, env {env:?}\n{}",
            describe(&command, &output)
        );
        assert!(
            !source.dir.join("debian/rvsel-one/opt").exists(),
            "--no-act wrote the venv"
        );
    }
}

#[test]
fn verbose_echoes_commands_tab_indented_on_stdout_only() {
    let tmp = scratch("cli-verbose-");
    let source = three_packages(tmp.path());
    let mut command = source.dh_rustvenv();
    command
        .args([
            "-prvsel-doc",
            "--skip-install",
            "--requirements=requirements.txt",
        ])
        .args(source.offline_args())
        .env("DH_VERBOSE", "1");
    let output = run(&mut command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.is_empty());
    for line in stdout.lines() {
        assert!(
            line.starts_with('\t'),
            "stdout line not tab-indented: {line:?}\n{}",
            describe(&command, &output)
        );
    }
    // The venv gets no pip: the interpreter's pip (Debian's python3-pip) installs into it.
    assert!(stdout.contains(" -m venv --without-pip "), "{stdout}");
    assert!(
        stdout.contains("/bin/python /usr/lib/python3/dist-packages/pip/__pip-runner__.py install --no-compile --no-index "),
        "{stdout}"
    );
    let venv = source.dir.join("debian/rvsel-doc/opt/venvs/rvsel-doc");
    assert!(
        venv.join("lib/python3.11/site-packages/fastsum/__init__.py")
            .is_file()
    );
    assert!(
        !source.dir.join("debian/rvsel-one").exists(),
        "only the selected package is built"
    );
    let substvars = std::fs::read_to_string(source.dir.join("debian/rvsel-doc.substvars")).unwrap();
    let items: Vec<&str> = substvars
        .trim_end()
        .strip_prefix("rustvenv:Depends=")
        .unwrap_or_else(|| panic!("{substvars}"))
        .split(", ")
        .collect();
    assert!(items.contains(&"python3.11"), "{substvars}");
    assert!(
        items.iter().any(|i| i.starts_with("zlib1g (>= ")),
        "fastsum links zlib: {substvars}"
    );
    let prerm =
        std::fs::read_to_string(source.dir.join("debian/rvsel-doc.prerm.debhelper")).unwrap();
    assert!(
        prerm.starts_with("# Automatically added by dh_rustvenv/"),
        "{prerm}"
    );

    // Running it again (as after an interrupted build) replaces the venv and adds nothing twice.
    run(&mut command);
    let again =
        std::fs::read_to_string(source.dir.join("debian/rvsel-doc.prerm.debhelper")).unwrap();
    assert_eq!(prerm, again);
    assert_eq!(
        substvars,
        std::fs::read_to_string(source.dir.join("debian/rvsel-doc.substvars")).unwrap()
    );
}

/// Runs dh_rustvenv expecting failure; returns the last line of stderr after checking the exit status
/// and that the package build directory holds no venv.
fn expect_failure<S: AsRef<std::ffi::OsStr>>(
    source: &SourcePackage,
    package: &str,
    args: &[S],
) -> String {
    let mut command = source.dh_rustvenv();
    command.args(args);
    let output = run_unchecked(&mut command);
    assert_eq!(
        output.status.code(),
        Some(255),
        "{}",
        describe(&command, &output)
    );
    assert!(
        output.stdout.is_empty(),
        "stdout must stay quiet: {}",
        describe(&command, &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    assert!(
        !source.dir.join("debian").join(package).join("opt").exists(),
        "a half-built venv was left: {}",
        describe(&command, &output)
    );
    assert!(
        !source
            .dir
            .join(format!("debian/{package}.substvars"))
            .exists()
    );
    last
}

#[test]
fn bad_input_fails_with_one_clear_line_and_leaves_nothing() {
    let tmp = scratch("cli-bad-");
    let source = SourcePackage::new(tmp.path(), "rvbad");
    let offline = source.offline_args();

    let line = expect_failure(
        &source,
        "rvbad",
        &["--requirements=missing-requirements.txt"],
    );
    assert!(
        line.starts_with("dh_rustvenv: error: package rvbad: requirements file "),
        "{line}"
    );
    assert!(
        line.contains("missing-requirements.txt") && line.contains("--requirements"),
        "{line}"
    );

    let line = expect_failure(&source, "rvbad", &["--python=/usr/bin/python3.99"]);
    assert!(
        line.starts_with(
            "dh_rustvenv: error: package rvbad: Python interpreter `/usr/bin/python3.99` not found"
        ),
        "{line}"
    );

    source.write("requirements.txt", "greetlib==1.0\nnosuchdist==1.0\n");
    let line = expect_failure(&source, "rvbad", &offline);
    assert!(
        line.starts_with("dh_rustvenv: error: package rvbad: installing requirements.txt: "),
        "{line}"
    );
    assert!(
        line.contains("No matching distribution found for nosuchdist==1.0"),
        "{line}"
    );

    // DH_QUIET: only the error line, not the end of pip's output.
    let mut command = source.dh_rustvenv();
    command.args(&offline).env("DH_QUIET", "1");
    let output = run_unchecked(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("No matching distribution found for nosuchdist==1.0"),
        "{stderr}"
    );

    let line = expect_failure(&source, "rvbad", &["--frobnicate"]);
    assert!(
        line.starts_with("dh_rustvenv: error: unexpected argument '--frobnicate'"),
        "{line}"
    );
    assert!(line.ends_with("see dh_rustvenv --help"), "{line}");
}

#[test]
fn no_act_writes_nothing() {
    let tmp = scratch("cli-noact-");
    let source = SourcePackage::new(tmp.path(), "rvnoact");
    for env in [None, Some(("DH_NO_ACT", "1"))] {
        let mut command = source.dh_rustvenv();
        if let Some((name, value)) = env {
            command.env(name, value);
        } else {
            command.arg("--no-act");
        }
        let output = run(&mut command);
        assert!(output.stdout.is_empty(), "{}", describe(&command, &output));
        assert!(!source.dir.join("debian/rvnoact").exists());
        assert!(!source.dir.join("debian/rvnoact.substvars").exists());
    }
}

#[test]
fn help_and_version_succeed() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_dh_rustvenv")).arg("--help"));
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--package",
        "--no-package",
        "--arch",
        "--indep",
        "--tmpdir",
        "--no-act",
        "--python",
        "--requirements",
        "--sourcedirectory",
        "--install-suffix",
        "--index-url",
        "--extra-index-url",
        "--extra-pip-arg",
        "--preinstall",
        "--skip-install",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    let output = run(Command::new(env!("CARGO_BIN_EXE_dh_rustvenv")).arg("--version"));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("dh_rustvenv "));
}

/// The command lines of the processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<String> {
    common::processes()
        .into_iter()
        .map(|p| p.cmdline)
        .filter(|c| c.contains(needle))
        .collect()
}

#[test]
fn sigterm_while_pip_builds_stops_it_and_leaves_nothing_behind() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let tmp = scratch("cli-sigterm-");
    let source = SourcePackage::new(tmp.path(), "rvsigterm");
    // The project's wheel build blocks, after setuptools wrote src/fixtureapp.egg-info: the signal
    // arrives while pip runs a build backend, as a Ctrl-C or an sbuild time-out would.
    source.write(
        "setup.py",
        "import sys\nimport time\n\nfrom setuptools import setup\n\n\
         if \"bdist_wheel\" in sys.argv:\n    time.sleep(600)\nsetup()\n",
    );
    let top = source.dir.to_string_lossy().into_owned();
    let egg_info = source.dir.join("src/fixtureapp.egg-info");
    let mut child = source
        .dh_rustvenv()
        .args(source.offline_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let building = || egg_info.exists() && !processes_naming("build_wheel").is_empty();
    while !building() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "dh_rustvenv ended before the project's build started"
        );
        assert!(
            Instant::now() < deadline,
            "the project's build never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "dh_rustvenv: error: package rvsigterm: installing the source package from {top}: \
             interrupted by SIGTERM"
        )),
        "{stderr}"
    );
    assert!(
        !source.dir.join("debian/rvsigterm").exists(),
        "the half-built venv is left"
    );
    assert!(!egg_info.exists(), "src/fixtureapp.egg-info is left");
    assert!(!source.dir.join("build").exists(), "build/ is left");
    for name in ["substvars", "postinst.debhelper"] {
        assert!(!source.dir.join(format!("debian/rvsigterm.{name}")).exists());
    }
    // pip, the build backend and what it started are gone too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !processes_naming(&top).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            processes_naming(&top)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_package_build_directory_inside_the_source_tree_keeps_the_installed_project() {
    let tmp = scratch("cli-tmpdir-");
    let source = SourcePackage::new(tmp.path(), "rvpkgroot");
    let output = run(source
        .dh_rustvenv()
        .arg("-Ppkgroot")
        .args(source.offline_args()));
    assert!(output.status.success());
    let site = source
        .dir
        .join("pkgroot/opt/venvs/rvpkgroot/lib/python3.11/site-packages");
    for installed in ["fixtureapp/__init__.py", "fixtureapp-1.0.dist-info/RECORD"] {
        assert!(
            site.join(installed).is_file(),
            "{installed} was taken for build residue"
        );
    }
    assert!(!source.dir.join("src/fixtureapp.egg-info").exists());
}
