//! For dh-virtualenv users: dh_virtualenv's options and variables, per-package configuration, hash
//! checking, offline builds from a wheelhouse, and --test.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Binary, SourcePackage, deb_paths, describe, run, run_unchecked, scratch};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn last_stderr_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// The commands a `--no-act -v` run would run (and its stderr), for `args` and `env`.
fn planned(source: &SourcePackage, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut command = source.dh_rustvenv();
    command.args(["--no-act", "-v"]).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = run_unchecked(&mut command);
    (
        stdout(&output),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Arguments, environment, what the planned commands contain, and what they must not contain.
type Case<'a> = (
    &'a [&'a str],
    &'a [(&'a str, &'a str)],
    &'a [&'a str],
    &'a [&'a str],
);

#[test]
fn dh_virtualenv_options_and_variables_change_what_is_run() {
    let tmp = scratch("compat-noact-");
    let source = SourcePackage::new(tmp.path(), "rvcompat");
    fs::write(source.dir.join("other-requirements.txt"), "greetlib==1.0\n").unwrap();
    let top = source.dir.to_string_lossy().into_owned();
    let staging = format!("{top}/debian/rvcompat/opt/venvs/rvcompat");
    let plain = planned(&source, &[], &[]).0;
    assert!(
        plain.contains(&format!(" -m venv --without-pip {staging}\n")),
        "{plain}"
    );

    let cases: &[Case] = &[
        (
            &["--builtin-venv"],
            &[],
            &[&format!(" -m venv --without-pip {staging}\n")],
            &[],
        ),
        (
            &["--pypi-url=https://mirror.example/simple"],
            &[],
            &["install --no-compile --index-url=https://mirror.example/simple"],
            &[],
        ),
        (
            &[
                "--index-url=https://a.example/simple",
                "--extra-index-url=https://b.example/simple",
            ],
            &[],
            &["--index-url=https://a.example/simple --extra-index-url=https://b.example/simple"],
            &[],
        ),
        (
            &["--extra-virtualenv-arg=--copies"],
            &[],
            &[&format!(" -m venv --without-pip --copies {staging}\n")],
            &[],
        ),
        (
            &["-S"],
            &[],
            &[&format!(
                " -m venv --without-pip --system-site-packages {staging}\n"
            )],
            &[],
        ),
        (
            &["--use-system-packages"],
            &[],
            &["--system-site-packages"],
            &[],
        ),
        (
            &["--pip-tool=pip-sync", "--preinstall=greetlib==1.0"],
            &[],
            &[
                &format!("{staging}/bin/pip-sync install -r {top}/requirements.txt"),
                // The venv has no pip yet: the interpreter's pip installs into it, run by the
                // venv's interpreter through pip's runner.
                "/bin/python /usr/lib/python3/dist-packages/pip/__pip-runner__.py install --no-compile greetlib==1.0",
            ],
            &[],
        ),
        (
            &["--upgrade-pip", "--extra-pip-arg=--prefer-binary"],
            &[],
            &[
                "/pip/__pip-runner__.py install --no-compile --upgrade pip\n",
                "--prefer-binary -r",
            ],
            &["--prefer-binary --upgrade"],
        ),
        (
            &["--upgrade-pip-to=23.0.1"],
            &[],
            &["--upgrade pip==23.0.1\n"],
            &[],
        ),
        (&["--upgrade-pip-to=latest"], &[], &["--upgrade pip\n"], &[]),
        (
            &["--extras=web,db"],
            &[],
            &[&format!("install --no-compile '{top}[web,db]'\n")],
            &[],
        ),
        (
            &["--require-hashes"],
            &[],
            &[&format!("--require-hashes -r {top}/requirements.txt")],
            &[],
        ),
        (
            &["--skip-install"],
            &[],
            &[],
            &[&format!("install --no-compile {top}\n")],
        ),
        (
            &["--install-suffix=other"],
            &[],
            &["# venv for rvcompat at /opt/venvs/other with /usr/bin/python3.11"],
            &[],
        ),
        (
            &["--requirements=other-requirements.txt"],
            &[],
            &[&format!("-r {top}/other-requirements.txt")],
            &[],
        ),
        (&["-n", "--no-test"], &[], &[" -m venv "], &[]),
        (
            &[],
            &[("DH_VIRTUALENV_INSTALL_ROOT", "/srv/venvs")],
            &["at /srv/venvs/rvcompat with"],
            &[],
        ),
        (
            &[],
            &[
                ("DH_RUSTVENV_INSTALL_ROOT", "/opt/apps"),
                ("DH_VIRTUALENV_INSTALL_ROOT", "/srv/venvs"),
            ],
            &["at /opt/apps/rvcompat with"],
            &[],
        ),
        // The variables only dh-virtualenv's build system reads: ignored, as dh_virtualenv 1.2.2
        // ignores them (below: with a warning).
        (
            &[],
            &[("DH_VIRTUALENV_INSTALL_SUFFIX", "legacy")],
            &["at /opt/venvs/rvcompat with"],
            &["legacy"],
        ),
        (
            &[],
            &[("DH_REQUIREMENTS_FILE", "other-requirements.txt")],
            &[&format!("-r {top}/requirements.txt")],
            &["other-requirements.txt"],
        ),
        (
            &[],
            &[("DH_PIP_EXTRA_ARGS", "--prefer-binary --no-index")],
            &[],
            &["--prefer-binary"],
        ),
        (
            &[],
            &[("DH_VIRTUALENV_ARGUMENTS", "--python python3 --builtin-venv")],
            &[&format!(" -m venv --without-pip {staging}\n")],
            &["--builtin-venv"],
        ),
        (
            &[],
            &[
                ("DH_UPGRADE_PIP", ""),
                ("DH_UPGRADE_SETUPTOOLS", "66.1.1"),
                ("DH_UPGRADE_WHEEL", ""),
            ],
            &[],
            &["--upgrade"],
        ),
    ];
    for (args, env, present, absent) in cases {
        let (commands, stderr) = planned(&source, args, env);
        for fragment in *present {
            assert!(
                commands.contains(fragment),
                "{args:?} {env:?}: no {fragment:?} in\n{commands}{stderr}"
            );
        }
        for fragment in *absent {
            assert!(
                !commands.contains(fragment),
                "{args:?} {env:?}: {fragment:?} in\n{commands}"
            );
        }
    }
    let (_, stderr) = planned(
        &source,
        &[],
        &[
            ("DH_VIRTUALENV_ARGUMENTS", "--python python3 --builtin-venv"),
            ("DH_UPGRADE_WHEEL", ""),
        ],
    );
    assert!(
        stderr.contains(
            "dh_rustvenv: warning: DH_VIRTUALENV_ARGUMENTS, DH_UPGRADE_WHEEL: read only by \
             dh-virtualenv's build system"
        ),
        "{stderr}"
    );
    assert!(
        planned(&source, &["--pypi-url=x"], &[])
            .1
            .contains("dh_rustvenv: warning: --pypi-url is deprecated; use --index-url")
    );
    assert!(
        planned(&source, &["--no-test"], &[])
            .1
            .contains("dh_rustvenv: warning: --no-test has no effect")
    );
    for (refused, says) in [
        (&["-s"][..], "--setuptools (-s) is virtualenv's option"),
        (
            &["--setuptools"],
            "--setuptools (-s) is virtualenv's option",
        ),
        (&["--setuptools-test"], "use --test"),
        (&["--pypi-url=a", "--index-url=b"], "keep only --index-url"),
    ] {
        let mut command = source.dh_rustvenv();
        command.args(refused);
        let output = run_unchecked(&mut command);
        assert_eq!(output.status.code(), Some(255), "{refused:?}");
        let line = last_stderr_line(&output);
        assert!(
            line.starts_with("dh_rustvenv: error: ") && line.contains(says),
            "{refused:?}: {line}"
        );
    }
}

/// The drop-in's dh_virtualenv run as dh-virtualenv's build system runs it from dh_auto_install
/// (`--buildsystem-destdir`), planning only, with `env` set.
fn planned_build_system(source: &SourcePackage, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(common::tool_dir().join("dh_virtualenv"));
    command
        .args(["--no-act", "-v", "--buildsystem-destdir=debian/rvcompat"])
        .current_dir(&source.dir);
    common::with_tool_env(&mut command);
    // A build machine's PATH, so that `--python python3` is Debian's.
    command.env(
        "PATH",
        format!(
            "{}:/usr/sbin:/usr/bin:/sbin:/bin",
            common::tool_dir().display()
        ),
    );
    for (name, value) in env {
        command.env(name, value);
    }
    run_unchecked(&mut command)
}

#[test]
fn dh_virtualenv_build_system_variables_change_what_is_run() {
    let tmp = scratch("compat-buildsystem-");
    let source = SourcePackage::new(tmp.path(), "rvcompat");
    fs::create_dir_all(source.dir.join("reqs")).unwrap();
    fs::write(source.dir.join("reqs/prod.txt"), "greetlib==1.0\n").unwrap();
    let top = source.dir.to_string_lossy().into_owned();

    // 1.2.2's build-system defaults: /usr/share/python/<source package>, requirements.txt.
    let output = planned_build_system(&source, &[]);
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dh_virtualenv"), &output)
    );
    let commands = stdout(&output);
    let staging = format!("{top}/debian/rvcompat/usr/share/python/rvcompat");
    assert!(
        commands.contains(&format!(" -m venv {staging}\n")),
        "{commands}"
    );
    assert!(
        commands.contains(&format!("-r {top}/requirements.txt")),
        "{commands}"
    );

    let output = planned_build_system(
        &source,
        &[
            ("DH_VIRTUALENV_INSTALL_ROOT", "/usr/lib/"),
            ("DH_VIRTUALENV_INSTALL_SUFFIX", "legacy"),
            (
                "DH_VIRTUALENV_ARGUMENTS",
                "--python python3 --system-site-packages",
            ),
            ("DH_REQUIREMENTS_FILE", "reqs/prod.txt"),
            ("DH_PIP_EXTRA_ARGS", "--prefer-binary"),
            ("DH_UPGRADE_WHEEL", "0.38.4"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        describe(&Command::new("dh_virtualenv"), &output)
    );
    let commands = stdout(&output);
    let staging = format!("{top}/debian/rvcompat/usr/lib/legacy");
    for present in [
        "# venv for rvcompat at /usr/lib/legacy with /usr/bin/python3.".to_owned(),
        format!(" -m venv --system-site-packages {staging}\n"),
        "--upgrade --prefer-binary wheel==0.38.4".to_owned(),
        format!("--prefer-binary -r {top}/reqs/prod.txt"),
    ] {
        assert!(commands.contains(&present), "no {present:?} in\n{commands}");
    }
    // DH_PIP_EXTRA_ARGS does not reach the install of the project.
    let project = commands
        .lines()
        .find(|l| l.ends_with(&format!(" {top}")))
        .unwrap_or_else(|| panic!("no install of {top} in\n{commands}"));
    assert!(!project.contains("--prefer-binary"), "{project}");

    // What python3 -m venv cannot take is refused, naming the variable.
    let output = planned_build_system(
        &source,
        &[("DH_VIRTUALENV_ARGUMENTS", "--python python3 --builtin-venv")],
    );
    assert_eq!(output.status.code(), Some(255));
    let line = last_stderr_line(&output);
    assert!(
        line.starts_with(
            "dh_virtualenv: error: package rvcompat: DH_VIRTUALENV_ARGUMENTS: `--builtin-venv`"
        ),
        "{line}"
    );
}

#[test]
fn rules_written_for_dh_virtualenv_build_with_the_rustvenv_add_on() {
    let tmp = scratch("compat-rules-");
    let source = SourcePackage::new(tmp.path(), "rvlegacy");
    // fastsum becomes an extra of the project, installed only through --extras.
    let pyproject = fs::read_to_string(source.dir.join("pyproject.toml"))
        .unwrap()
        .replace("dependencies = [\"greetlib\", \"fastsum\"]", "dependencies = [\"greetlib\"]\n\n[project.optional-dependencies]\nspeed = [\"fastsum\"]");
    source.write("pyproject.toml", &pyproject);
    source.write("requirements.txt", "greetlib==1.0\n");
    // The debian/rules of a dh-virtualenv package: only --with changed, and the override renamed.
    source.write(
        "debian/rules",
        &format!(
            "#!/usr/bin/make -f\n\nexport DH_VIRTUALENV_INSTALL_ROOT=/opt/legacy\n\n%:\n\tdh $@ --with rustvenv --python=/usr/bin/python3\n\n\
             override_dh_rustvenv:\n\tdh_rustvenv --builtin-venv --use-system-packages --extras=speed \\\n\
             \t\t--extra-virtualenv-arg=--prompt=legacy --pip-tool=pip3 --no-test \\\n\t\t{}\n",
            common::OFFLINE_ARGS
        ),
    );
    let debs = source.build(&["-b"]);
    let deb = &debs[0].1;
    let paths = deb_paths(deb);
    let site = "/opt/legacy/rvlegacy/lib/python3.11/site-packages";
    assert!(
        paths
            .iter()
            .any(|p| p == &format!("{site}/fastsum-1.0.dist-info/METADATA")),
        "the extra: {paths:?}"
    );
    let extracted = tmp.path().join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let cfg = fs::read_to_string(extracted.join("opt/legacy/rvlegacy/pyvenv.cfg")).unwrap();
    assert!(cfg.contains("include-system-site-packages = true"), "{cfg}");
    assert!(cfg.contains("prompt = 'legacy'"), "{cfg}");
}

#[test]
fn hash_checking_names_the_distribution_and_the_line() {
    let tmp = scratch("compat-hashes-");
    let source = SourcePackage::new(tmp.path(), "rvhash");
    let mut offline = source.offline_args();
    offline.push("--skip-install".to_owned());
    let wrong = format!("greetlib==1.0 --hash=sha256:{}\n", "0".repeat(64));
    source.write("requirements.txt", &format!("# pinned\n{wrong}"));
    let output = run_unchecked(source.dh_rustvenv().args(&offline));
    let line = last_stderr_line(&output);
    assert!(
        line.starts_with("dh_rustvenv: error: package rvhash: installing requirements.txt: requirements.txt, line 2: the archive of greetlib==1.0 does not match its hash"),
        "{line}"
    );
    assert!(!source.dir.join("debian/rvhash/opt").exists());

    source.write(
        "requirements.txt",
        "greetlib==1.0\n# the C extension\nfastsum==1.0\n",
    );
    let output = run_unchecked(source.dh_rustvenv().args(&offline).arg("--require-hashes"));
    let line = last_stderr_line(&output);
    assert!(
        line.starts_with("dh_rustvenv: error: package rvhash: installing requirements.txt: requirements.txt, line 1: greetlib==1.0 has no hash, and --require-hashes requires one"),
        "{line}"
    );

    // With the right hashes, the same file installs in hash-checking mode.
    let hash_of = |prefix: &str| common::sha256(&common::wheelhouse_file(prefix));
    source.write(
        "requirements.txt",
        &format!(
            "greetlib==1.0 --hash=sha256:{}\nfastsum==1.0 --hash=sha256:{}\n",
            hash_of("greetlib-"),
            hash_of("fastsum-")
        ),
    );
    let mut command = source.dh_rustvenv();
    command.args(&offline).arg("--require-hashes");
    let output = run_unchecked(&mut command);
    assert!(output.status.success(), "{}", describe(&command, &output));
}

#[test]
fn a_wheelhouse_in_debian_makes_the_build_offline_and_names_what_it_lacks() {
    let tmp = scratch("compat-wheelhouse-");
    let source = SourcePackage::new(tmp.path(), "rvoffline");
    fs::rename(
        source.dir.join("wheelhouse"),
        source.dir.join("debian/wheelhouse"),
    )
    .unwrap();
    // No pip arguments at all: debian/wheelhouse is used, and only it.
    let mut command = source.dh_rustvenv();
    command
        .arg("--skip-install")
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple");
    let output = run_unchecked(&mut command);
    assert!(output.status.success(), "{}", describe(&command, &output));
    let site = source
        .dir
        .join("debian/rvoffline/opt/venvs/rvoffline/lib/python3.11/site-packages");
    assert!(site.join("fastsum").is_dir() && site.join("greetlib").is_dir());

    let fastsum = common::wheelhouse_file("fastsum-")
        .file_name()
        .unwrap()
        .to_owned();
    let fastsum = source.dir.join("debian/wheelhouse").join(fastsum);
    fs::remove_file(fastsum).unwrap();
    let output = run_unchecked(source.dh_rustvenv().arg("--skip-install"));
    let line = last_stderr_line(&output);
    assert!(line.starts_with("dh_rustvenv: error: package rvoffline: installing requirements.txt: fastsum==1.0 not in the wheelhouse debian/wheelhouse: add what is missing with dh_rustvenv --download: "), "{line}");
    assert!(
        line.ends_with("No matching distribution found for fastsum==1.0"),
        "{line}"
    );
}

#[test]
fn each_package_takes_its_own_configuration_file() {
    let tmp = scratch("compat-config-");
    let source = SourcePackage::with_binaries(
        tmp.path(),
        "rvconf",
        &[
            Binary::new("rvconf-a", "any"),
            Binary::new("rvconf-b", "any"),
        ],
    );
    source.write("requirements-a.txt", "greetlib==1.0\n");
    source.write(
        "debian/rvconf-a.rustvenv",
        "# only the pure-Python requirement\n--requirements requirements-a.txt\n--skip-install\n",
    );
    // An executable configuration file, as dh-exec users write them.
    source.write(
        "debian/rvconf-b.rustvenv",
        "#!/bin/sh\necho \"--install-suffix=$DH_CONFIG_ACT_ON_PACKAGES-venv --skip-install\"\n",
    );
    run(Command::new("chmod")
        .arg("+x")
        .arg(source.dir.join("debian/rvconf-b.rustvenv")));
    let mut command = source.dh_rustvenv();
    command.args(source.offline_args());
    let output = run_unchecked(&mut command);
    assert!(output.status.success(), "{}", describe(&command, &output));
    let site = |package: &str, venv: &str| {
        source.dir.join(format!(
            "debian/{package}/opt/venvs/{venv}/lib/python3.11/site-packages"
        ))
    };
    assert!(site("rvconf-a", "rvconf-a").join("greetlib").is_dir());
    assert!(
        !site("rvconf-a", "rvconf-a").join("fastsum").exists(),
        "rvconf-a's requirements file was not used"
    );
    assert!(
        site("rvconf-b", "rvconf-b-venv").join("fastsum").is_dir(),
        "rvconf-b's script was not run"
    );

    source.write("debian/rvconf-a.rustvenv", "--frobnicate\n");
    let output = run_unchecked(source.dh_rustvenv().args(["-prvconf-a"]));
    let line = last_stderr_line(&output);
    assert!(line.starts_with("dh_rustvenv: error: package rvconf-a: debian/rvconf-a.rustvenv: unexpected argument '--frobnicate'"), "{line}");
}

#[test]
fn test_runs_in_the_staged_venv_unless_nocheck() {
    let tmp = scratch("compat-test-");
    let source = SourcePackage::new(tmp.path(), "rvtest");
    let mut base = source.offline_args();
    base.push("--test".to_owned());
    // The command runs with the venv first in PATH, in the source directory.
    let passing = "--test-command=python -c 'import fixtureapp, sys; fixtureapp.main(); open(\"ran\", \"w\").write(sys.prefix)'";
    let mut command = source.dh_rustvenv();
    command.args(&base).arg(passing);
    let output = run_unchecked(&mut command);
    assert!(output.status.success(), "{}", describe(&command, &output));
    // Only build residue is removed from the source tree: a file the tests wrote is theirs.
    assert!(
        source.dir.join("ran").exists(),
        "what the tests wrote in the source tree was removed"
    );

    let failing = "--test-command=python -c 'import sys; sys.exit(\"3 tests failed\")'";
    let venv = source.dir.join("debian/rvtest/opt/venvs/rvtest");
    let entries = |dir: &Path| -> Vec<PathBuf> {
        walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .collect()
    };
    let built = entries(&venv);
    let output = run_unchecked(source.dh_rustvenv().args(&base).arg(failing));
    let line = last_stderr_line(&output);
    assert!(line.starts_with("dh_rustvenv: error: package rvtest: running the tests (--test; DEB_BUILD_OPTIONS=nocheck skips them): "), "{line}");
    assert!(line.ends_with("3 tests failed"), "{line}");
    assert_eq!(
        entries(&venv),
        built,
        "the failed run did not put back the venv the run before it built"
    );

    let mut command = source.dh_rustvenv();
    command
        .args(&base)
        .arg(failing)
        .env("DEB_BUILD_OPTIONS", "nocheck");
    let output = run_unchecked(&mut command);
    assert!(
        output.status.success(),
        "nocheck skips the tests: {}",
        describe(&command, &output)
    );
}

#[test]
fn files_already_in_the_venv_directory_are_kept_and_a_clash_with_pip_is_named() {
    let tmp = scratch("compat-kept-");
    let source = SourcePackage::new(tmp.path(), "rvkept");
    let venv = source.dir.join("debian/rvkept/opt/venvs/rvkept");
    // As debian/rvkept.install would put it there, before the venv exists.
    source.write(
        "debian/rvkept/opt/venvs/rvkept/lib/backup.sh",
        "#!/bin/sh\necho backup\n",
    );
    let output = run(source.dh_rustvenv().args(source.offline_args()));
    assert!(output.status.success());
    assert_eq!(
        fs::read_to_string(venv.join("lib/backup.sh")).unwrap(),
        "#!/bin/sh\necho backup\n"
    );
    assert!(venv.join("bin/fixtureapp").is_file());
    assert!(venv.join("pyvenv.cfg").is_file());

    // A file pip installs too: an error naming both, and the earlier file is left as it was.
    fs::remove_dir_all(source.dir.join("debian/rvkept")).unwrap();
    source.write("debian/rvkept/opt/venvs/rvkept/bin/fixtureapp", "mine\n");
    let output = run_unchecked(source.dh_rustvenv().args(source.offline_args()));
    assert!(!output.status.success());
    let error = last_stderr_line(&output);
    assert!(
        error.contains("bin/fixtureapp was in the venv directory before the venv was created")
            && error.contains(&format!(
                "pip installed {}",
                venv.join("bin/fixtureapp").display()
            ))
            && error.contains("(from the distribution fixtureapp-1.0)"),
        "{error}"
    );
    assert_eq!(
        fs::read_to_string(venv.join("bin/fixtureapp")).unwrap(),
        "mine\n"
    );
    assert!(!venv.join("pyvenv.cfg").exists());
}

#[test]
fn an_offline_pip_upgrade_that_cannot_find_its_wheel_says_to_use_the_wheelhouse() {
    let tmp = scratch("compat-upgrade-");
    let source = SourcePackage::new(tmp.path(), "rvupgrade");
    // --extra-pip-arg does not reach the upgrade (as with dh_virtualenv); no index is reachable.
    let output = run_unchecked(
        source
            .dh_rustvenv()
            .arg("--upgrade-pip-to=23.2")
            .args(source.offline_args())
            .env("PIP_NO_INDEX", "1"),
    );
    assert!(!output.status.success());
    let error = last_stderr_line(&output);
    assert!(
        error.contains("upgrading pip==23.2")
            && error.contains("does not get --extra-pip-arg")
            && error.contains("--wheelhouse"),
        "{error}"
    );
    assert!(!source.dir.join("debian/rvupgrade/opt").exists());
}
