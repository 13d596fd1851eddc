//! What dh_rustvenv writes, run after run: nothing from an earlier run's files that have since
//! changed, nothing outside the package build directory and the work directory.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SourcePackage, describe, run, run_unchecked, scratch};

/// Writes the sdist `<dir>/foo-1.0.tar.gz` of a one-module project, foo 1.0, whose module says
/// `VERSION = "<version>"` (built by setuptools, from the wheelhouse, when pip installs it).
fn write_foo_sdist(dir: &Path, version: &str) -> PathBuf {
    let sdist = dir.join("foo-1.0.tar.gz");
    let code = r#"
import io, sys, tarfile
files = {
    "foo-1.0/pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n[project]\nname = "foo"\nversion = "1.0"\n\n'
        '[tool.setuptools]\npy-modules = ["foo"]\n',
    "foo-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
    "foo-1.0/foo.py": f"VERSION = {sys.argv[2]!r}\n",
}
with tarfile.open(sys.argv[1], "w:gz") as tar:
    for name, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 1700000000
        tar.addfile(info, io.BytesIO(data))
"#;
    run(Command::new("/usr/bin/python3")
        .args(["-c", code])
        .arg(&sdist)
        .arg(version));
    sdist
}

/// The venv's `foo.py`, in the package build directory of `package`.
fn installed_foo(source: &SourcePackage, package: &str) -> String {
    let lib = source
        .dir
        .join(format!("debian/{package}/opt/venvs/{package}/lib"));
    let site = fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("a site-packages directory");
    fs::read_to_string(site.join("foo.py")).expect("foo.py in the venv")
}

#[test]
fn an_sdist_replaced_under_its_name_is_built_again_on_a_rerun_without_dh_clean() {
    let tmp = scratch("writers-sdist-");
    let package = "rvcache";
    let source = SourcePackage::new(tmp.path(), package);
    source.write("requirements.txt", "foo==1.0\n");
    let wheelhouse = source.dir.join("wheelhouse");
    let build = || {
        let mut command = source.dh_rustvenv();
        command.arg("--skip-install").args(source.offline_args());
        let output = run_unchecked(&mut command);
        assert!(output.status.success(), "{}", describe(&command, &output));
    };
    write_foo_sdist(&wheelhouse, "a");
    build();
    assert_eq!(installed_foo(&source, package), "VERSION = 'a'\n");
    // The same name, another build: pip's cache of the first run must not hand out the old one.
    write_foo_sdist(&wheelhouse, "b");
    build();
    assert_eq!(
        installed_foo(&source, package),
        "VERSION = 'b'\n",
        "the wheel pip built from the replaced sdist was installed from the cache"
    );
    // The first run's cache is gone; one cache is left, this run's.
    let caches: Vec<_> = fs::read_dir(source.dir.join("debian/.debhelper/rustvenv/pip-cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
}
