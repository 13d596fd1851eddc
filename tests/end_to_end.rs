//! A source package built with dpkg-buildpackage and `dh $@ --with rustvenv`, installed with dpkg -i,
//! run, and purged: what a user of the add-on does, with the real tools.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    Binary, SourcePackage, deb_field, deb_paths, dpkg_lock, files_naming, lintian_complaints,
    purge_if_installed, run, scratch,
};

/// Installs `deb`, runs the console script through the venv and through /usr/bin, checks nothing in
/// the installed venv names the build tree, then purges and checks the venv is gone.
fn install_run_purge(package: &str, deb: &Path, build_dir: &Path) {
    let _lock = dpkg_lock();
    purge_if_installed(package);
    run(Command::new("dpkg").arg("-i").arg(deb));
    let venv = Path::new("/opt/venvs").join(package);

    for program in [
        venv.join("bin/fixtureapp"),
        Path::new("/usr/bin/fixtureapp").to_path_buf(),
    ] {
        // Run from / so nothing is found relative to the build tree.
        let output = run(Command::new(&program).current_dir("/"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("hello, fixtureapp"), "{stdout}");
        assert!(stdout.contains("sum=5 crc32=a995418c"), "{stdout}");
        assert!(
            stdout.contains(&format!("prefix={}", venv.display())),
            "{stdout}"
        );
    }
    let leaked = files_naming(&venv, &build_dir.to_string_lossy());
    assert!(
        leaked.is_empty(),
        "installed files name the build directory: {leaked:?}"
    );
    // The venv holds no pip; the interpreter's pip wheel, run by the venv's python, sees a
    // consistent set; RECORD matches the files.
    let python = venv.join("bin/python");
    assert!(!venv.join("bin/pip").exists(), "pip was not asked for");
    let pip = common::pip_wheel().join("pip");
    run(Command::new(&python)
        .arg(&pip)
        .arg("check")
        .current_dir("/"));
    let list = run(Command::new(&python).arg(&pip).arg("list").current_dir("/"));
    let list = String::from_utf8_lossy(&list.stdout);
    for dist in ["fixtureapp", "greetlib", "fastsum"] {
        assert!(
            list.lines().any(|l| l.starts_with(dist)),
            "pip list lacks {dist}:\n{list}"
        );
    }
    common::verify_records(&python);

    // postinst byte-compiled the venv; what Python writes while the program runs goes with purge too.
    let cache = venv.join("lib/python3.11/site-packages/fixtureapp/__pycache__");
    assert!(cache.is_dir(), "postinst did not byte-compile the venv");
    fs::remove_dir_all(&cache).unwrap();
    run(Command::new(venv.join("bin/fixtureapp"))
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .current_dir("/"));
    assert!(
        cache.is_dir(),
        "running the program as root wrote no bytecode, so the check below proves nothing"
    );

    run(Command::new("dpkg").args(["--purge", package]));
    assert!(!venv.exists(), "{} is left after purge", venv.display());
}

#[test]
fn builds_installs_runs_and_purges() {
    let tmp = scratch("e2e-");
    let source = SourcePackage::new(tmp.path(), "rvfixture");
    // Package data that dh_strip_nondeterminism would normalize (gzip keeps a name and a time).
    fs::write(source.dir.join("src/fixtureapp/table.txt"), "1 2 3\n").unwrap();
    run(Command::new("gzip").arg(source.dir.join("src/fixtureapp/table.txt")));
    let mut pyproject = fs::read_to_string(source.dir.join("pyproject.toml")).unwrap();
    pyproject.push_str("\n[tool.setuptools.package-data]\nfixtureapp = [\"*.gz\"]\n");
    source.write("pyproject.toml", &pyproject);
    source.link_console_script();
    let debs = source.build(&["-b"]);
    assert_eq!(debs.len(), 1, "{debs:?}");
    let deb = &debs[0].1;

    let depends = deb_field(deb, "Depends");
    assert!(
        depends.split(", ").any(|d| d == "python3.11"),
        "Depends: {depends}"
    );
    assert!(
        depends.contains("zlib1g"),
        "the C extension links zlib; Depends: {depends}"
    );
    let paths = deb_paths(deb);
    assert!(
        paths
            .iter()
            .any(|p| p == "/opt/venvs/rvfixture/bin/fixtureapp"),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p == "/opt/venvs/rvfixture/pyvenv.cfg"),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains("__pycache__")),
        "bytecode is compiled at installation, not shipped"
    );

    // The gzip file was normalized as dh_strip_nondeterminism does it: no file name, no build time.
    let extracted = tmp.path().join("extracted");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let gz = fs::read(
        extracted.join("opt/venvs/rvfixture/lib/python3.11/site-packages/fixtureapp/table.txt.gz"),
    )
    .unwrap();
    assert_eq!(gz[3] & 0x08, 0, "the gzip header still names the file");
    let mtime = u32::from_le_bytes(gz[4..8].try_into().unwrap());
    assert!(
        mtime <= 1_795_219_200,
        "the gzip header keeps the build time {mtime}"
    );

    let complaints = lintian_complaints(deb);
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");

    // Building the project left nothing in the source tree.
    assert!(!source.dir.join("build").exists());
    assert!(!source.dir.join("src/fixtureapp.egg-info").exists());
    install_run_purge("rvfixture", deb, &source.dir);
}

#[test]
fn long_build_path_gets_plain_shebangs() {
    let tmp = scratch("e2e-long-");
    // pip writes its `/bin/sh` + `'''exec'` form when `#!<staging>/bin/python` exceeds 127 bytes.
    let parent = tmp
        .path()
        .join("a-build-directory-whose-name-is-long-enough".repeat(3));
    fs::create_dir_all(&parent).unwrap();
    let source = SourcePackage::new(&parent, "rvlong");
    let staging = source.dir.join("debian/rvlong/opt/venvs/rvlong/bin/python");
    assert!(
        staging.as_os_str().len() + 3 > 127,
        "the fixture path must be long: {}",
        staging.display()
    );
    source.link_console_script();
    let debs = source.build(&["-b"]);
    let deb = &debs[0].1;

    let extracted = tmp.path().join("extracted");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let script = "fixtureapp";
    let text = fs::read_to_string(extracted.join("opt/venvs/rvlong/bin").join(script)).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("#!/opt/venvs/rvlong/bin/python"),
        "bin/{script}: {first}"
    );
    assert!(
        !text.contains("'''exec'"),
        "bin/{script} keeps pip's sh form:\n{text}"
    );
    install_run_purge("rvlong", deb, &source.dir);
}

#[test]
fn binary_arch_and_binary_indep_build_their_own_packages() {
    let tmp = scratch("e2e-archindep-");
    let source = SourcePackage::with_binaries(
        tmp.path(),
        "rvsplit",
        &[
            Binary::new("rvsplit-arch", "any"),
            Binary::new("rvsplit-indep", "all"),
        ],
    );
    // The arch:all package holds only the pure-Python requirement; options reach dh_rustvenv through
    // dh's -O passing as well as from an override.
    source.write("requirements-indep.txt", "greetlib==1.0\n");
    source.rules(&format!(
        "override_dh_rustvenv:\n\
         \tdh_rustvenv -prvsplit-indep --skip-install --requirements=requirements-indep.txt {offline}\n\
         \tdh_rustvenv -Nrvsplit-indep {offline}\n",
        offline = common::OFFLINE_ARGS
    ));

    let arch = source.build(&["-B"]);
    let names: Vec<&str> = arch.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rvsplit-arch"]);
    assert!(
        deb_paths(&arch[0].1)
            .iter()
            .any(|p| p == "/opt/venvs/rvsplit-arch/bin/fixtureapp")
    );
    for (_, deb) in &arch {
        fs::remove_file(deb).unwrap();
    }

    let indep = source.build(&["-A"]);
    let names: Vec<&str> = indep.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rvsplit-indep"]);
    let paths = deb_paths(&indep[0].1);
    assert!(
        paths
            .iter()
            .any(|p| p
                == "/opt/venvs/rvsplit-indep/lib/python3.11/site-packages/greetlib/__init__.py"),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains("fixtureapp")),
        "--skip-install left the project out: {paths:?}"
    );
    assert_eq!(deb_field(&indep[0].1, "Depends"), "python3.11");
}

#[test]
fn setup_py_project_with_a_makefile_builds_and_cleans_at_compat_13() {
    let tmp = scratch("e2e-setuppy-");
    let source = SourcePackage::new(tmp.path(), "rvsetuppy");
    // A setup.py-only project: debhelper would pick python_distutils for it and fail at compat 13.
    fs::remove_file(source.dir.join("pyproject.toml")).unwrap();
    source.write(
        "setup.py",
        "from setuptools import setup\n\nsetup(\n    name='fixtureapp',\n    version='1.0',\n    package_dir={'': 'src'},\n    \
         packages=['fixtureapp'],\n    install_requires=['greetlib', 'fastsum'],\n    \
         entry_points={'console_scripts': ['fixtureapp = fixtureapp:main']},\n)\n",
    );
    // Documentation built by make keeps being built, and installed by `make install`: the sequence
    // runs no dh_auto_build, dh_auto_install or dh_auto_clean (as dh-virtualenv's did not), so the
    // rules call them from hook targets, as README says. dh_auto_configure inside an override target
    // still gets the rustvenv build system (dh-virtualenv's bug #326).
    source.rules(&format!(
        "override_dh_auto_configure:\n\tdh_auto_configure\n\n\
         execute_after_dh_auto_configure:\n\tdh_auto_build\n\n\
         execute_before_dh_install:\n\tdh_auto_install\n\n\
         execute_before_dh_clean:\n\tdh_auto_clean\n\n\
         override_dh_rustvenv:\n\tdh_rustvenv {}\n",
        common::OFFLINE_ARGS
    ));
    source.write(
        "Makefile",
        "all: manual.html\n\nmanual.html:\n\techo '<p>manual</p>' > $@\n\n\
         install:\n\tinstall -D -m 644 manual.html $(DESTDIR)/usr/share/doc/rvsetuppy/manual.html\n\n\
         clean:\n\trm -f manual.html\n",
    );
    let debs = source.build(&["-b"]);
    let paths = deb_paths(&debs[0].1);
    assert!(
        paths
            .iter()
            .any(|p| p == "/usr/share/doc/rvsetuppy/manual.html"),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p == "/opt/venvs/rvsetuppy/bin/fixtureapp"),
        "{paths:?}"
    );

    source.rules_target("clean");
    let mut left: Vec<String> = fs::read_dir(&source.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "Makefile",
            "debian",
            "requirements.txt",
            "setup.py",
            "src",
            "wheelhouse"
        ]
    );
    let mut src: Vec<String> = fs::read_dir(source.dir.join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    src.sort();
    assert_eq!(src, ["fixtureapp"], "egg-info or other residue in src/");
}

#[test]
fn uv_installer_gives_the_package_pip_gives_and_builds_reproducibly() {
    let tmp = scratch("uv-");
    let mut sources = Vec::new();
    for parent in ["pip", "uv-a", "uv-b-with-a-longer-name/nested"] {
        let parent = tmp.path().join(parent);
        fs::create_dir_all(&parent).unwrap();
        let source = SourcePackage::new(&parent, "rvuv");
        source.link_console_script();
        // uv from the wheelhouse, as an offline build gets it.
        let wheelhouse = source.dir.join("debian/wheelhouse");
        fs::create_dir_all(&wheelhouse).unwrap();
        for entry in fs::read_dir(common::wheelhouse()).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), wheelhouse.join(entry.file_name())).unwrap();
        }
        let uv = common::uv_wheel();
        fs::copy(&uv, wheelhouse.join(uv.file_name().unwrap())).unwrap();
        let installer = if parent.ends_with("pip") { "pip" } else { "uv" };
        source.rules(&format!(
            "override_dh_rustvenv:\n\tdh_rustvenv --installer {installer}\n"
        ));
        sources.push(source);
    }
    let debs: Vec<PathBuf> = sources
        .iter()
        .map(|source| {
            let debs = source.build(&["-b"]);
            assert_eq!(debs.len(), 1, "{debs:?}");
            debs[0].1.clone()
        })
        .collect();
    let (pip, uv, uv_again) = (&debs[0], &debs[1], &debs[2]);
    assert_eq!(
        common::sha256(uv),
        common::sha256(uv_again),
        "two uv builds in different directories differ"
    );
    assert_eq!(deb_field(pip, "Depends"), deb_field(uv, "Depends"));
    // The same files, but for what says which installer it was.
    let installer_files = |p: &String| p.ends_with("/INSTALLER");
    let pip_paths: Vec<String> = deb_paths(pip)
        .into_iter()
        .filter(|p| !installer_files(p))
        .collect();
    let uv_paths: Vec<String> = deb_paths(uv)
        .into_iter()
        .filter(|p| !installer_files(p))
        .collect();
    assert_eq!(pip_paths, uv_paths);
    let extracted = tmp.path().join("extracted");
    run(Command::new("dpkg-deb").arg("-x").arg(uv).arg(&extracted));
    let venv = extracted.join("opt/venvs/rvuv");
    for source in &sources {
        let leaked = files_naming(&venv, &source.dir.to_string_lossy());
        assert!(leaked.is_empty(), "{leaked:?}");
    }
    assert!(files_naming(&venv, "uv-cache").is_empty());
    let complaints = lintian_complaints(uv);
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");
    install_run_purge("rvuv", uv, &sources[1].dir);
}
