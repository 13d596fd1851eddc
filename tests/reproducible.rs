//! A package built with the add-on depends only on its source and SOURCE_DATE_EPOCH, and carries no
//! trace of the build directory.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Binary, SourcePackage, files_naming, run, run_unchecked, scratch, sha256};

/// Which files differ between two .debs: control and data, extracted side by side.
fn differences(a: &Path, b: &Path, scratch: &Path) -> Vec<String> {
    let mut trees = Vec::new();
    for (deb, name) in [(a, "a"), (b, "b")] {
        let dir = scratch.join(name);
        run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&dir));
        trees.push(dir);
    }
    let listing = |root: &Path| -> BTreeMap<PathBuf, String> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                let relative = e.path().strip_prefix(root).unwrap().to_path_buf();
                let content = if e.file_type().is_symlink() {
                    format!("-> {}", fs::read_link(e.path()).unwrap().display())
                } else {
                    sha256(e.path())
                };
                (relative, content)
            })
            .collect()
    };
    let (left, right) = (listing(&trees[0]), listing(&trees[1]));
    let mut names: Vec<&PathBuf> = left.keys().chain(right.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| left.get(*n) != right.get(*n))
        .map(|n| n.display().to_string())
        .collect()
}

#[test]
fn two_builds_in_different_directories_are_byte_identical() {
    let tmp = scratch("repro-");
    // One package compiles bytecode at installation (the default), one ships it.
    let binaries = [
        Binary::new("rvrepro", "any"),
        Binary::new("rvrepro-pyc", "any"),
    ];
    let mut sources = Vec::new();
    for parent in [
        tmp.path().join("a"),
        tmp.path().join("a-much-longer-build-directory/nested"),
    ] {
        fs::create_dir_all(&parent).unwrap();
        let source = SourcePackage::with_binaries(&parent, "rvrepro", &binaries);
        // hdruser compiles against a header of its build requirement hdrlib, which pip installs in an
        // isolated build environment with a random name.
        source.write(
            "requirements.txt",
            "greetlib==1.0\nfastsum==1.0\nhdruser==1.0\n",
        );
        source.rules(&format!(
            "override_dh_rustvenv:\n\
             \tdh_rustvenv -prvrepro {offline}\n\
             \tdh_rustvenv -prvrepro-pyc --ship-bytecode {offline}\n",
            offline = common::OFFLINE_ARGS
        ));
        sources.push(source);
    }
    let first = sources[0].build(&["-b"]);
    // The second build differs in everything but the source: directory, umask, hostname, time.
    let mut command = Command::new("unshare");
    command
        .args([
            "--uts",
            "sh",
            "-c",
            "hostname other-build-host && umask 0027 && exec dpkg-buildpackage -us -uc -b",
        ])
        .current_dir(&sources[1].dir);
    common::with_tool_env(&mut command);
    let output = run_unchecked(&mut command);
    assert!(
        output.status.success(),
        "{}",
        common::describe(&command, &output)
    );
    let second = sources[1].debs();

    let names =
        |debs: &[(String, PathBuf)]| debs.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&first), ["rvrepro", "rvrepro-pyc"]);
    assert_eq!(names(&first), names(&second));
    let mut compared = 0;
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        let diff = if sha256(a) == sha256(b) {
            Vec::new()
        } else {
            differences(a, b, &tmp.path().join(name))
        };
        assert!(
            sha256(a) == sha256(b),
            "{name} differs between the two builds: {diff:#?}"
        );
        compared += 1;
    }
    // The automatic -dbgsym packages of the C extension too.
    for source in &sources {
        assert!(
            source
                .dir
                .parent()
                .unwrap()
                .join("rvrepro-dbgsym_1.0_amd64.deb")
                .exists()
        );
    }
    let dbgsym =
        |s: &SourcePackage| sha256(&s.dir.parent().unwrap().join("rvrepro-dbgsym_1.0_amd64.deb"));
    assert_eq!(
        dbgsym(&sources[0]),
        dbgsym(&sources[1]),
        "rvrepro-dbgsym differs"
    );
    assert_eq!(compared, 2);

    // The shipped bytecode names the final path only.
    let extracted = tmp.path().join("pyc");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&first[1].1)
        .arg(&extracted));
    let venv = extracted.join("opt/venvs/rvrepro-pyc");
    let pyc =
        venv.join("lib/python3.11/site-packages/fixtureapp/__pycache__/__init__.cpython-311.pyc");
    let bytes = fs::read(&pyc).unwrap();
    let needle = b"/opt/venvs/rvrepro-pyc/lib/python3.11/site-packages/fixtureapp/__init__.py";
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "{} does not name its final path",
        pyc.display()
    );
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()) & 0b11,
        0b11,
        "not a checked-hash .pyc"
    );
    assert!(files_naming(&venv, &sources[0].dir.to_string_lossy()).is_empty());

    // Shipped bytecode is dpkg's; what Python adds at run time goes with purge all the same.
    let _lock = common::dpkg_lock();
    common::purge_if_installed("rvrepro-pyc");
    run(Command::new("dpkg").arg("-i").arg(&first[1].1));
    let installed = Path::new("/opt/venvs/rvrepro-pyc");
    let extra = installed.join("lib/python3.11/site-packages/greetlib/__pycache__");
    fs::remove_dir_all(&extra).unwrap();
    run(Command::new(installed.join("bin/fixtureapp"))
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .current_dir("/"));
    assert!(
        extra.is_dir(),
        "running the program wrote no bytecode, so the purge check proves nothing"
    );
    run(Command::new("dpkg").args(["--purge", "rvrepro-pyc"]));
    assert!(
        !installed.exists(),
        "{} is left after purge",
        installed.display()
    );
}

#[test]
fn a_file_naming_the_staging_path_fails_the_build_unless_allowed() {
    let tmp = scratch("leak-");
    let source = SourcePackage::new(tmp.path(), "rvleak");
    // A binary data file recording where it was installed, as some caches do: relocation cannot
    // rewrite it, so the audit must catch it.
    let staging = source.dir.join("debian/rvleak/opt/venvs/rvleak");
    let mut data = b"\0\x01cache\0".to_vec();
    data.extend_from_slice(staging.to_string_lossy().as_bytes());
    data.push(0);
    fs::write(source.dir.join("src/fixtureapp/cache.bin"), &data).unwrap();
    let mut pyproject = fs::read_to_string(source.dir.join("pyproject.toml")).unwrap();
    pyproject.push_str("\n[tool.setuptools.package-data]\nfixtureapp = [\"*.bin\"]\n");
    source.write("pyproject.toml", &pyproject);

    let output = source.dpkg_buildpackage_unchecked(&["-b"], &[]);
    assert!(!output.status.success(), "the build succeeded with a leak");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("dh_rustvenv: error: package rvleak: 1 file(s) in the venv still name the build directory:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lib/python3.11/site-packages/fixtureapp/cache.bin: names "),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-leaks"), "{stderr}");
    assert!(!staging.exists(), "the failed build left its venv");
    assert!(
        !source
            .dir
            .join("debian/.debhelper/rvleak/dbgsym-root")
            .exists(),
        "the failed build left debug files for the -dbgsym package"
    );

    source.rules(&format!(
        "override_dh_rustvenv:\n\tdh_rustvenv --allow-leaks {}\n",
        common::OFFLINE_ARGS
    ));
    let output = source.dpkg_buildpackage_unchecked(&["-b"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("dh_rustvenv: warning: package rvleak: 1 file(s)"),
        "{stderr}"
    );
}
