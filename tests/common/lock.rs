//! Shared by the lock-file tests: the wheelhouse's artifacts with their real hashes, a source package
//! without requirements.txt, and what a built venv holds, checked against the artifacts' RECORDs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{SourcePackage, run, sha256, wheelhouse_file};

/// One wheelhouse file: its name and its sha256 in hex.
pub struct Artifact {
    pub file_name: String,
    pub sha256: String,
}

/// The wheelhouse file whose name starts with `prefix`, with its hash.
pub fn artifact(prefix: &str) -> Artifact {
    let path = wheelhouse_file(prefix);
    Artifact {
        file_name: path.file_name().unwrap().to_string_lossy().into_owned(),
        sha256: sha256(&path),
    }
}

/// A source package around fixtureapp whose `pyproject.toml` depends on greetlib (and on bundled on
/// Windows only), with the extra `web` (oddfiles) and the dependency group `dev` (docpack), with no
/// requirements.txt, and debian/rules running `dh_rustvenv --wheelhouse wheelhouse ARGS`.
pub fn lock_source(parent: &Path, name: &str, args: &str) -> SourcePackage {
    fs::create_dir_all(parent).unwrap();
    let source = SourcePackage::new(parent, name);
    fs::remove_file(source.dir.join("requirements.txt")).unwrap();
    source.write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"fixtureapp\"\nversion = \"1.0\"\nrequires-python = \">=3.9\"\n\
         dependencies = [\"greetlib\", \"bundled; sys_platform == 'win32'\"]\n\n\
         [project.optional-dependencies]\nweb = [\"oddfiles\"]\n\n\
         [dependency-groups]\ndev = [\"docpack\"]\n",
    );
    source.rules(&format!(
        "override_dh_rustvenv:\n\tdh_rustvenv --wheelhouse wheelhouse {args}\n"
    ));
    source
}

/// Builds `source` with dpkg-buildpackage, asserting success, unpacks its .deb beside it and returns
/// the venv's directory in the unpacked tree, with the build's stderr.
pub fn build_venv(source: &SourcePackage) -> (PathBuf, String) {
    let output = source.dpkg_buildpackage_unchecked(&["-b"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "dpkg-buildpackage failed:\n{stderr}"
    );
    let debs = source.debs();
    let extracted = source.dir.parent().unwrap().join("extracted");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&debs[0].1)
        .arg(&extracted));
    (
        extracted.join(format!("opt/venvs/{}", source.source)),
        stderr,
    )
}

/// Prints `name==version` of each distribution in the site-packages given first (normalized names),
/// after checking every RECORD hash of those distributions against the installed files, and every
/// hash in the RECORD of each wheel given after it against the file it installed (but ELF files, which
/// the build strips, and files starting with `#!`, whose shebang it rewrites): what is installed is
/// exactly what the locked artifacts hold.
const CHECK: &str = r##"
import base64, csv, hashlib, importlib.metadata as md, io, os, re, sys, zipfile
site, wheels = sys.argv[1], sys.argv[2:]
def digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
wrong = []
for dist in md.distributions(path=[site]):
    for f in dist.files or []:
        if f.hash and f.hash.mode == "sha256":
            if digest(f.locate().read_bytes()) != f.hash.value:
                wrong.append(str(f))
    print(re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() + "==" + dist.version)
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        for row in csv.reader(io.StringIO(z.read(record).decode())):
            path, hash_ = row[0], row[1]
            if not hash_ or ".data/" in path:
                continue
            installed = os.path.join(site, path)
            with open(installed, "rb") as f:
                data = f.read()
            # The pipeline strips ELF files and rewrites shebangs (both recorded in RECORD, checked above).
            if data.startswith((b"\x7fELF", b"#!")):
                continue
            if "sha256=" + digest(data) != hash_:
                wrong.append(installed)
sys.exit("installed files do not match: " + ", ".join(wrong) if wrong else 0)
"##;

/// The distributions of the venv at `venv` (`name==version`, normalized), after [`CHECK`] with the
/// wheelhouse wheels `wheels` (by file-name prefix).
pub fn installed_set(venv: &Path, wheels: &[&str]) -> BTreeSet<String> {
    let site = venv.join("lib/python3.11/site-packages");
    let mut command = Command::new("/usr/bin/python3");
    command.args(["-I", "-c", CHECK]).arg(&site);
    for prefix in wheels {
        command.arg(wheelhouse_file(prefix));
    }
    let output = run(&mut command);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The set `names` as [`installed_set`] gives it.
pub fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}
