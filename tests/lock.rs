//! Lock files as the input of a build: a pylock.toml, a uv.lock and a poetry.lock written here with
//! the real hashes of the tests' wheelhouse, each built offline with dpkg-buildpackage; the venv holds
//! exactly the locked set (names, versions, and the files of each wheel's RECORD), with the extras
//! and dependency groups asked for. A tampered or missing artifact, a lock with nothing for the
//! interpreter and a malformed lock each fail with one clear error.

mod common;

use std::fs;

use common::lock::{Artifact, artifact, build_venv, installed_set, lock_source, set_of};
use common::{run_unchecked, scratch};

/// A pylock.toml: greetlib's wheel; fastsum's sdist beside a wheel for another interpreter; pgver,
/// excluded by its marker on any Python 3; the project's own directory entry.
fn pylock(greetlib: &Artifact, fastsum: &Artifact, pgver: &Artifact) -> String {
    format!(
        r#"lock-version = "1.0"
requires-python = ">=3.9"
created-by = "dh-rustvenv tests"

[[packages]]
name = "greetlib"
version = "1.0"

[[packages.wheels]]
name = "{g}"
url = "https://files.example/packages/{g}"
hashes = {{ sha256 = "{gh}" }}

[[packages]]
name = "fastsum"
version = "1.0"

[[packages.wheels]]
name = "fastsum-1.0-cp312-cp312-manylinux_2_17_aarch64.whl"
url = "https://files.example/packages/fastsum-1.0-cp312-cp312-manylinux_2_17_aarch64.whl"
hashes = {{ sha256 = "{zero}" }}

[packages.sdist]
name = "{f}"
url = "https://files.example/packages/{f}"
hashes = {{ sha256 = "{fh}" }}

[[packages]]
name = "pgver"
version = "1.0"
marker = "python_version < '3'"
sdist = {{ name = "{p}", hashes = {{ sha256 = "{ph}" }} }}

[[packages]]
name = "fixtureapp"
directory = {{ path = "." }}
"#,
        g = greetlib.file_name,
        gh = greetlib.sha256,
        f = fastsum.file_name,
        fh = fastsum.sha256,
        p = pgver.file_name,
        ph = pgver.sha256,
        zero = "0".repeat(64),
    )
}

fn default_pylock() -> String {
    pylock(
        &artifact("greetlib-"),
        &artifact("fastsum-"),
        &artifact("pgver-"),
    )
}

#[test]
fn a_pylock_toml_is_found_and_installs_exactly_its_set_for_the_interpreter() {
    let tmp = scratch("lock-pylock-");
    let source = lock_source(tmp.path(), "rvpylock", "");
    source.write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"fixtureapp\"\nversion = \"1.0\"\ndependencies = [\"greetlib\", \"fastsum\"]\n",
    );
    source.write("pylock.toml", &default_pylock());
    let (venv, stderr) = build_venv(&source);
    assert!(
        stderr.contains(
            "dh_rustvenv: package rvpylock: installing the locked set of pylock.toml (found in the \
             source directory): 2 package(s) for Python 3.11"
        ),
        "{stderr}"
    );
    assert_eq!(
        installed_set(&venv, &["greetlib-"]),
        set_of(&["fastsum==1.0", "fixtureapp==1.0", "greetlib==1.0"])
    );
}

/// A uv.lock as uv writes one for the project of [`lock_source`].
fn uv_lock() -> String {
    let wheel = |a: &Artifact| {
        format!(
            "wheels = [\n    {{ url = \"https://files.example/packages/{}\", hash = \"sha256:{}\", size = 1 }},\n]\n",
            a.file_name, a.sha256
        )
    };
    let registry = "source = { registry = \"https://pypi.org/simple\" }";
    format!(
        r#"version = 1
revision = 2
requires-python = ">=3.9"

[[package]]
name = "bundled"
version = "1.0"
{registry}
{bundled}
[[package]]
name = "docpack"
version = "1.0"
{registry}
{docpack}
[[package]]
name = "fixtureapp"
version = "1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "bundled", marker = "sys_platform == 'win32'" }},
    {{ name = "greetlib" }},
]

[package.optional-dependencies]
web = [
    {{ name = "oddfiles" }},
]

[package.dev-dependencies]
dev = [
    {{ name = "docpack" }},
]

[package.metadata]
requires-dist = [
    {{ name = "bundled", marker = "sys_platform == 'win32'" }},
    {{ name = "greetlib" }},
    {{ name = "oddfiles", marker = "extra == 'web'" }},
]
provides-extras = ["web"]

[package.metadata.requires-dev]
dev = [{{ name = "docpack" }}]

[[package]]
name = "greetlib"
version = "1.0"
{registry}
{greetlib}
[[package]]
name = "oddfiles"
version = "1.0"
{registry}
{oddfiles}"#,
        bundled = wheel(&artifact("bundled-")),
        docpack = wheel(&artifact("docpack-")),
        greetlib = wheel(&artifact("greetlib-")),
        oddfiles = wheel(&artifact("oddfiles-")),
    )
}

#[test]
fn a_uv_lock_installs_the_project_s_set_with_the_extras_and_groups_asked_for() {
    let tmp = scratch("lock-uv-");
    let source = lock_source(tmp.path(), "rvuvlock", "--extras web --group dev");
    source.write("uv.lock", &uv_lock());
    let (venv, stderr) = build_venv(&source);
    assert!(
        stderr.contains(
            "installing the locked set of uv.lock (found in the source directory): 3 package(s)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(
        installed_set(&venv, &["greetlib-", "oddfiles-", "docpack-"]),
        set_of(&[
            "docpack==1.0",
            "fixtureapp==1.0",
            "greetlib==1.0",
            "oddfiles==1.0"
        ])
    );
}

/// A poetry.lock (lock-version 2.1) for the project of [`lock_source`].
fn poetry_lock() -> String {
    let files = |a: &Artifact| {
        format!(
            "files = [\n    {{file = \"{}\", hash = \"sha256:{}\"}},\n]\n",
            a.file_name, a.sha256
        )
    };
    format!(
        r#"# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.

[[package]]
name = "docpack"
version = "1.0"
description = ""
optional = false
python-versions = ">=3.9"
groups = ["dev"]
{docpack}
[[package]]
name = "greetlib"
version = "1.0"
description = ""
optional = false
python-versions = ">=3.9"
groups = ["main"]
{greetlib}
[[package]]
name = "oddfiles"
version = "1.0"
description = ""
optional = true
python-versions = "*"
groups = ["main"]
markers = "extra == \"web\""
{oddfiles}
[[package]]
name = "bundled"
version = "1.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
markers = "sys_platform == \"win32\""
{bundled}
[extras]
web = ["oddfiles"]

[metadata]
lock-version = "2.1"
python-versions = ">=3.9"
content-hash = "0000000000000000000000000000000000000000000000000000000000000000"
"#,
        docpack = files(&artifact("docpack-")),
        greetlib = files(&artifact("greetlib-")),
        oddfiles = files(&artifact("oddfiles-")),
        bundled = files(&artifact("bundled-")),
    )
}

#[test]
fn a_poetry_lock_named_with_lock_wins_over_requirements_txt_and_installs_main_only() {
    let tmp = scratch("lock-poetry-");
    let source = lock_source(tmp.path(), "rvpoetry", "--lock poetry.lock --installer uv");
    source.write("poetry.lock", &poetry_lock());
    source.write("requirements.txt", "fastsum==1.0\n");
    fs::copy(
        common::uv_wheel(),
        source
            .dir
            .join("wheelhouse")
            .join(common::uv_wheel().file_name().unwrap()),
    )
    .unwrap();
    let (venv, stderr) = build_venv(&source);
    assert!(
        stderr
            .contains("installing the locked set of poetry.lock (named with --lock): 1 package(s)"),
        "{stderr}"
    );
    assert_eq!(
        installed_set(&venv, &["greetlib-"]),
        set_of(&["fixtureapp==1.0", "greetlib==1.0"])
    );
}

/// Runs dh_rustvenv in `source` with `args` and returns its stderr, asserting that it failed.
fn failure(source: &common::SourcePackage, args: &[&str]) -> String {
    let output = run_unchecked(
        source
            .dh_rustvenv()
            .args(["--wheelhouse", "wheelhouse"])
            .args(args),
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "dh_rustvenv {args:?} succeeded:\n{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "not one line:\n{stderr}");
    stderr
}

#[test]
fn a_tampered_a_missing_or_no_artifact_and_a_malformed_lock_are_one_line_errors() {
    let tmp = scratch("lock-errors-");
    let source = lock_source(tmp.path(), "rvlockerr", "");
    source.write("pylock.toml", &default_pylock());
    let greetlib = source
        .dir
        .join("wheelhouse")
        .join(artifact("greetlib-").file_name);
    let original = fs::read(&greetlib).unwrap();

    let mut tampered = original.clone();
    tampered.extend_from_slice(b"tampered");
    fs::write(&greetlib, &tampered).unwrap();
    let err = failure(&source, &[]);
    assert!(
        err.starts_with("dh_rustvenv: error: package rvlockerr: ")
            && err.contains("pylock.toml")
            && err.contains(&format!("hash mismatch: {}", greetlib.display())),
        "{err}"
    );

    fs::remove_file(&greetlib).unwrap();
    let err = failure(&source, &[]);
    assert!(
        err.contains(&format!(
            "greetlib 1.0 is locked to {}, which is not in the wheelhouse",
            artifact("greetlib-").file_name
        )) && err.contains("--download"),
        "{err}"
    );
    fs::write(&greetlib, &original).unwrap();

    let foreign = default_pylock().replace(
        &format!("name = \"{}\"", artifact("greetlib-").file_name),
        "name = \"greetlib-1.0-cp312-cp312-manylinux_2_17_aarch64.whl\"",
    );
    source.write("pylock.toml", &foreign);
    let err = failure(&source, &[]);
    assert!(
        err.contains(
            "greetlib 1.0 has no artifact for this interpreter: no wheel tagged cp311-cp311-"
        ),
        "{err}"
    );

    source.write(
        "pylock.toml",
        "lock-version = \"1.0\"\n[[packages]]\nname = 3\n",
    );
    let err = failure(&source, &[]);
    assert!(
        err.contains("pylock.toml: a package: `name` is not a string"),
        "{err}"
    );
    source.write("pylock.toml", "lock-version = [");
    let err = failure(&source, &[]);
    assert!(err.contains("pylock.toml: not valid TOML"), "{err}");

    let err = failure(
        &source,
        &["--group", "dev", "--requirements", "pyproject.toml"],
    );
    assert!(
        err.contains("--group dev selects dependency groups of a lock file"),
        "{err}"
    );
}

#[test]
fn download_fills_the_wheelhouse_with_exactly_the_locked_files_checked_against_their_hashes() {
    let tmp = scratch("lock-download-");
    let source = lock_source(tmp.path(), "rvlockdl", "");
    // The lock's URLs are file: URLs of the tests' wheelhouse; build requirements come from it too.
    let local = format!("file://{}/", common::wheelhouse().display());
    source.write(
        "pylock.toml",
        &default_pylock().replace("https://files.example/packages/", &local),
    );
    let download = |lock_text: &str| {
        source.write("pylock.toml", lock_text);
        let _ = fs::remove_dir_all(source.dir.join("fetched"));
        run_unchecked(
            source
                .dh_rustvenv()
                .args(["--download", "--wheelhouse", "fetched"])
                .env("PIP_NO_INDEX", "1")
                .env("PIP_FIND_LINKS", common::wheelhouse()),
        )
    };
    let lock_text = default_pylock().replace("https://files.example/packages/", &local);
    let output = download(&lock_text);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("holds the 2 locked file(s) of pylock.toml for Python 3.11 (2 downloaded)"),
        "{stdout}"
    );
    let mut names: Vec<String> = fs::read_dir(source.dir.join("fetched"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let greetlib = artifact("greetlib-").file_name;
    let fastsum = artifact("fastsum-").file_name;
    assert!(
        names.contains(&greetlib) && names.contains(&fastsum),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("setuptools-")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("pgver")), "{names:?}");

    // For another interpreter: the same locked files (pure Python and an sdist), for cp313 on trixie.
    let _ = fs::remove_dir_all(source.dir.join("fetched"));
    let output = run_unchecked(
        source
            .dh_rustvenv()
            .args(["--download-for", "trixie", "--wheelhouse", "fetched"])
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", common::wheelhouse()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("holds the 2 locked file(s) of pylock.toml for cp313 (trixie, glibc 2.41)"),
        "{stdout}"
    );

    let wrong = lock_text.replace(&artifact("greetlib-").sha256, &"1".repeat(64));
    let output = download(&wrong);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("hash mismatch") && stderr.contains(&greetlib),
        "{stderr}"
    );
}
