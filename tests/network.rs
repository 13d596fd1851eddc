//! Tests that need the package index (PyPI): opt in with `DH_RUSTVENV_NETWORK_TESTS=1`.
//!
//! They package real projects from PyPI: numpy (with the OpenBLAS its manylinux wheel bundles), black
//! (compiled with mypyc) and psycopg2 (built from its sdist against Debian's libpq-dev); build them
//! twice from directories of different lengths, and check that the two builds are byte-identical and
//! that the package installs and works.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    build_copy, deb_field, dpkg_lock, purge_if_installed, run, scratch, sha256, with_tool_env,
};

fn assert_identical(first: &[(String, PathBuf)], second: &[(String, PathBuf)]) {
    assert_eq!(first.len(), second.len());
    for ((name, a), (_, b)) in first.iter().zip(second) {
        assert_eq!(
            sha256(a),
            sha256(b),
            "{name} differs between the two builds"
        );
    }
}

#[test]
#[cfg_attr(
    not(network_tests),
    ignore = "needs the package index (PyPI): run with DH_RUSTVENV_NETWORK_TESTS=1"
)]
fn numpy_black_psycopg2_and_pyyaml_are_packaged_work_and_lintian_is_silent() {
    let tmp = scratch("net-real-");
    let source = tmp.path().join("source");
    fs::create_dir_all(source.join("debian/source")).unwrap();
    let write = |path: &str, text: &str| fs::write(source.join(path), text).unwrap();
    write(
        "requirements.txt",
        "numpy==2.4.6\nblack==26.10.1\npsycopg2==2.9.13\nPyYAML==6.0.3\n",
    );
    write("debian/source/format", "3.0 (native)\n");
    write(
        "debian/copyright",
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
         Files: *\nCopyright: 2026 dh-rustvenv developers\nLicense: Expat\n\n\
         License: Expat\n Permission is hereby granted, free of charge, to any person obtaining a copy\n \
         of this software, to deal in the Software without restriction.\n",
    );
    write(
        "debian/changelog",
        "rvreal (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- dh-rustvenv tests <tests@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n",
    );
    write(
        "debian/control",
        "Source: rvreal\nSection: python\nPriority: optional\nMaintainer: dh-rustvenv tests <tests@example.org>\n\
         Build-Depends: debhelper-compat (= 13), python3-venv, libpq-dev\nStandards-Version: 4.6.2\n\
         Rules-Requires-Root: no\n\nPackage: rvreal\nArchitecture: any\nDepends: ${rustvenv:Depends}, ${misc:Depends}\n\
         Description: numpy, black and psycopg2 in a venv\n Built by dh-rustvenv's network tests.\n",
    );
    write(
        "debian/rules",
        "#!/usr/bin/make -f\n%:\n\tdh $@ --with rustvenv\n\noverride_dh_rustvenv:\n\tdh_rustvenv --skip-install --upgrade-pip-to=26.3 --extra-pip-arg=--no-binary=psycopg2\n",
    );
    run(Command::new("chmod")
        .arg("+x")
        .arg(source.join("debian/rules")));

    let first = build_copy(&source, &tmp.path().join("a"), "rvreal-1.0");
    let second = build_copy(
        &source,
        &tmp.path().join("a-longer-directory/nested"),
        "rvreal-1.0",
    );
    assert_identical(&first, &second);
    let deb = &first.iter().find(|(n, _)| n == "rvreal").unwrap().1;
    let depends = deb_field(deb, "Depends");
    eprintln!("rvreal Depends: {depends}");
    assert!(
        depends.contains("libpq5"),
        "psycopg2 links libpq: {depends}"
    );
    assert!(depends.contains("python3.11"), "{depends}");
    // numpy's bundled libraries, PyYAML's embedded libyaml, a current pip's executable modules: each
    // fixed or overridden for its file, with a reason.
    let complaints = common::lintian_complaints(deb);
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");

    let _lock = dpkg_lock();
    purge_if_installed("rvreal");
    run(Command::new("dpkg").arg("-i").arg(deb));
    let python = Path::new("/opt/venvs/rvreal/bin/python");
    let check = "import numpy, psycopg2, psycopg2.extensions; \
                 a = numpy.array([[2.0, 1.0], [1.0, 3.0]]); print(round(float(numpy.linalg.det(a)), 6)); \
                 print(psycopg2.extensions.libpq_version() > 0); \
                 import yaml; print(yaml.__with_libyaml__, yaml.safe_load('a: [1, 2]'))";
    let output = run(Command::new(python).args(["-c", check]).current_dir("/"));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "5.0\nTrue\nTrue {'a': [1, 2]}\n"
    );
    let formatted = run(Command::new("/opt/venvs/rvreal/bin/black")
        .args(["-c", "x = ( 1, )"])
        .current_dir("/"));
    assert_eq!(String::from_utf8_lossy(&formatted.stdout), "x = (1,)\n");
    common::verify_records(python);
    run(Command::new("dpkg").args(["--purge", "rvreal"]));
    assert!(!Path::new("/opt/venvs/rvreal").exists());
}

/// A source package whose project is built by `backend` (the `[build-system]` table's lines).
fn backend_project(dir: &Path, package: &str, build_system: &str) {
    fs::create_dir_all(dir.join("src/hello")).unwrap();
    fs::create_dir_all(dir.join("debian/source")).unwrap();
    let write = |path: &str, text: &str| fs::write(dir.join(path), text).unwrap();
    write(
        "pyproject.toml",
        &format!(
            "[build-system]\n{build_system}\n\n[project]\nname = \"hello\"\nversion = \"1.0\"\n\
             description = \"A project built by its PEP 517 backend\"\nrequires-python = \">=3.9\"\n\
             dependencies = [\"six\"]\n\n[project.scripts]\nhello = \"hello:main\"\n"
        ),
    );
    write(
        "src/hello/__init__.py",
        "\"\"\"Says hello.\"\"\"\n\nimport six\n\n\ndef main():\n    print(\"hello\", six.__version__)\n",
    );
    write("requirements.txt", "six==1.16.0\n");
    write("debian/source/format", "3.0 (native)\n");
    write(
        "debian/changelog",
        &format!(
            "{package} (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- dh-rustvenv tests <tests@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n"
        ),
    );
    write(
        "debian/control",
        &format!(
            "Source: {package}\nSection: python\nPriority: optional\nMaintainer: dh-rustvenv tests <tests@example.org>\n\
             Build-Depends: debhelper-compat (= 13), python3-venv\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
             Package: {package}\nArchitecture: all\nDepends: ${{rustvenv:Depends}}, ${{misc:Depends}}\n\
             Description: a project built by its PEP 517 backend\n Built by dh-rustvenv's network tests.\n"
        ),
    );
    write(
        "debian/rules",
        "#!/usr/bin/make -f\n%:\n\tdh $@ --with rustvenv\n",
    );
    run(Command::new("chmod")
        .arg("+x")
        .arg(dir.join("debian/rules")));
}

#[test]
#[cfg_attr(
    not(network_tests),
    ignore = "needs the package index (PyPI): run with DH_RUSTVENV_NETWORK_TESTS=1"
)]
fn hatchling_flit_core_and_poetry_core_projects_build_offline_from_a_downloaded_wheelhouse() {
    let tmp = scratch("net-backends-");
    let backends = [
        (
            "rvhatch",
            "requires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"",
            "hatchling-",
        ),
        (
            "rvflit",
            "requires = [\"flit_core>=3.4,<4\"]\nbuild-backend = \"flit_core.buildapi\"",
            "flit_core-",
        ),
        (
            "rvpoetry",
            "requires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"",
            "poetry_core-",
        ),
    ];
    for (package, build_system, backend_wheel) in backends {
        let dir = tmp.path().join(package).join(format!("{package}-1.0"));
        backend_project(&dir, package, build_system);
        let mut download = Command::new(env!("CARGO_BIN_EXE_dh_rustvenv"));
        download.arg("--download").current_dir(&dir);
        with_tool_env(&mut download);
        run(&mut download);
        let wheelhouse: Vec<String> = fs::read_dir(dir.join("debian/wheelhouse"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            wheelhouse.iter().any(|f| f.starts_with(backend_wheel)),
            "{package}: {wheelhouse:?}"
        );
        assert!(
            wheelhouse.iter().any(|f| f.starts_with("six-1.16.0")),
            "{package}: {wheelhouse:?}"
        );

        // The build cannot reach an index: only the wheelhouse.
        let mut build = Command::new("dpkg-buildpackage");
        build
            .args(["-us", "-uc", "-b"])
            .current_dir(&dir)
            .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple");
        with_tool_env(&mut build);
        run(&mut build);
        let deb = tmp
            .path()
            .join(package)
            .join(format!("{package}_1.0_all.deb"));
        let listing =
            String::from_utf8_lossy(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)).stdout)
                .into_owned();
        for path in [
            format!("./opt/venvs/{package}/bin/hello"),
            format!("./opt/venvs/{package}/lib/python3.11/site-packages/hello/__init__.py"),
        ] {
            assert!(
                listing.contains(&path),
                "{package}: no {path} in\n{listing}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(network_tests),
    ignore = "needs the package index (PyPI): run with DH_RUSTVENV_NETWORK_TESTS=1"
)]
fn download_for_fills_the_wheelhouse_for_cp311_and_cp313_on_amd64_and_arm64() {
    let tmp = scratch("net-download-for-");
    let source = tmp.path().join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&source));
    let wheelhouse = source.join("debian/wheelhouse");
    fs::remove_dir_all(&wheelhouse).unwrap();
    let mut download = Command::new(env!("CARGO_BIN_EXE_dh_rustvenv"));
    download
        // The command debian-example/README.md gives for its wheelhouse.
        .args([
            "--download-for",
            "bookworm,trixie,bookworm:arm64,trixie:arm64",
        ])
        .current_dir(&source);
    with_tool_env(&mut download);
    let output = run(&mut download);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("{said}");
    let files: Vec<String> = fs::read_dir(&wheelhouse)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for abi in ["cp311-cp311", "cp313-cp313"] {
        for machine in ["x86_64", "aarch64"] {
            assert!(
                files.iter().any(|f| f.starts_with("markupsafe-3.0.4-")
                    && f.contains(abi)
                    && f.ends_with(&format!("_{machine}.whl"))),
                "no {abi} {machine} wheel of MarkupSafe in {files:?}"
            );
        }
    }
    assert!(said.contains("cp313 (trixie, glibc 2.41)"), "{said}");
    // The same set as the committed wheelhouse, which builds on both releases, and nothing more.
    let mut committed: Vec<String> =
        fs::read_dir(common::repo().join("debian-example/debian/wheelhouse"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    let mut files = files;
    files.sort();
    committed.sort();
    assert_eq!(files, committed);
    // What the build left in the project: nothing.
    assert!(!source.join("src/demosite.egg-info").exists());

    // A distribution with no cp313 wheel: its sdist, said so, with its own build requirements.
    let sdist_only = tmp.path().join("rvyaml-1.0");
    fs::create_dir_all(sdist_only.join("debian")).unwrap();
    fs::write(
        sdist_only.join("debian/control"),
        "Source: rvyaml\nMaintainer: dh-rustvenv tests <tests@example.org>\n\
         Build-Depends: debhelper-compat (= 13)\n\nPackage: rvyaml\nArchitecture: any\n\
         Description: test\n test\n",
    )
    .unwrap();
    fs::write(
        sdist_only.join("requirements.txt"),
        "PyYAML==6.0.1\nsix==1.16.0\n",
    )
    .unwrap();
    let mut download = Command::new(env!("CARGO_BIN_EXE_dh_rustvenv"));
    download
        .args(["--skip-install", "--download-for", "trixie"])
        .current_dir(&sdist_only);
    with_tool_env(&mut download);
    let output = run(&mut download);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("{said}");
    assert!(said.contains("the sdist(s) PyYAML-6.0.1.tar.gz"), "{said}");
    let files: Vec<String> = fs::read_dir(sdist_only.join("debian/wheelhouse"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for prefix in [
        "PyYAML-6.0.1.tar.gz",
        "six-1.16.0-",
        "Cython-",
        "setuptools-",
    ] {
        assert!(
            files.iter().any(|f| f.starts_with(prefix)),
            "no {prefix}* in {files:?}"
        );
    }
}

/// A project with real dependencies, markers among them (tomli below Python 3.11, click's colorama on
/// Windows, requests' extra `socks`) and an extra of its own (`yaml`).
const LOCKED_PROJECT: &str = r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "fixtureapp"
version = "1.0"
requires-python = ">=3.9"
dependencies = [
    "requests[socks]>=2.31",
    "click>=8.1",
    "attrs>=23",
    "tomli>=2; python_version < '3.11'",
]

[project.optional-dependencies]
yaml = ["PyYAML>=6"]
"#;

#[test]
#[cfg_attr(
    not(network_tests),
    ignore = "needs the package index (PyPI): run with DH_RUSTVENV_NETWORK_TESTS=1"
)]
fn a_real_uv_lock_and_poetry_lock_install_what_their_exporters_would() {
    use common::lock::{build_venv, installed_set, lock_source};
    use common::lock_tools::{lock_tools, pip_would_install, tool};
    let tmp = scratch("net-locks-");
    let bin = lock_tools(&tmp.path().join("tools"));
    let cache = tmp.path().join("cache");
    for (format, lock_file) in [("uv", "uv.lock"), ("poetry", "poetry.lock")] {
        let source = lock_source(
            &tmp.path().join(format),
            &format!("rv{format}net"),
            "--extras yaml",
        );
        source.write("pyproject.toml", LOCKED_PROJECT);
        fs::remove_dir_all(source.dir.join("wheelhouse")).unwrap();
        let exported = tmp.path().join(format!("{format}-exported.txt"));
        let exported_arg = exported.to_str().unwrap();
        if format == "uv" {
            tool(&bin, "uv", &source.dir, &cache, &["lock"]);
            tool(
                &bin,
                "uv",
                &source.dir,
                &cache,
                &[
                    "export",
                    "--format",
                    "requirements-txt",
                    "--no-dev",
                    "--extra",
                    "yaml",
                    "--no-emit-project",
                    "--no-hashes",
                    "-o",
                    exported_arg,
                ],
            );
        } else {
            tool(&bin, "poetry", &source.dir, &cache, &["lock"]);
            tool(
                &bin,
                "poetry",
                &source.dir,
                &cache,
                &[
                    "export",
                    "-f",
                    "requirements.txt",
                    "--without-hashes",
                    "--extras",
                    "yaml",
                    "-o",
                    exported_arg,
                ],
            );
        }
        let lock_text = fs::read_to_string(source.dir.join(lock_file)).unwrap();
        if format == "poetry" {
            assert!(lock_text.contains("lock-version = \"2.1\""), "{lock_text}");
        }
        // The wheelhouse from the lock, online; then the offline build.
        run(source.dh_rustvenv().args([
            "--download",
            "--wheelhouse",
            "wheelhouse",
            "--extras",
            "yaml",
        ]));
        let (venv, stderr) = build_venv(&source);
        assert!(
            stderr.contains(&format!("installing the locked set of {lock_file}")),
            "{stderr}"
        );
        let mut installed = installed_set(&venv, &[]);
        installed.remove("fixtureapp==1.0");
        let expected = pip_would_install(&bin, &exported, tmp.path());
        eprintln!(
            "{lock_file}: dh_rustvenv installed {} distribution(s), the exporter's set for this \
             interpreter has {}; equal: {}",
            installed.len(),
            expected.len(),
            installed == expected
        );
        assert_eq!(installed, expected, "{lock_file}");
    }
}
