//! Cross builds: `dpkg-buildpackage -a arm64` on this amd64 machine makes an arm64 package of
//! debian-example, with no emulation, from the aarch64 wheels of its wheelhouse; what cannot
//! cross-build (compiled code with no wheel for arm64) fails early, naming the distribution and the
//! wheel it needs. Needs crossbuild-essential-arm64 and libc6:arm64 (scripts/install-deps).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::cross::{
    EM_AARCH64, cross_build, elf_machines, relative_files, require_cross_tools, unpack,
};
use common::{
    SourcePackage, build_copy, deb_field, files_naming, lintian_complaints, run, scratch,
};

/// The minor version of this machine's python3 (11 on Debian 12).
fn python_minor() -> String {
    let output = run(
        Command::new("/usr/bin/python3").args(["-c", "import sys; print(sys.version_info[1])"])
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Copies debian-example to `parent/demosite-1.0.0` with `rules_extra` appended to debian/rules,
/// cross-builds it for arm64 and returns the .deb of demosite and of demosite-dbgsym.
fn cross_build_example(
    parent: &Path,
    rules_extra: &str,
    extra_wheels: &[PathBuf],
) -> (PathBuf, PathBuf) {
    fs::create_dir_all(parent).unwrap();
    let dir = parent.join("demosite-1.0.0");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("debian-example"))
        .arg(&dir));
    for wheel in extra_wheels {
        fs::copy(
            wheel,
            dir.join("debian/wheelhouse")
                .join(wheel.file_name().unwrap()),
        )
        .unwrap();
    }
    if !rules_extra.is_empty() {
        let rules = dir.join("debian/rules");
        let text = fs::read_to_string(&rules).unwrap();
        fs::write(&rules, format!("{text}\n{rules_extra}")).unwrap();
    }
    let (output, took) = cross_build(&dir, &[]);
    assert!(
        output.status.success(),
        "the cross build failed in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "cross build of {} for arm64: {:.1} s",
        dir.display(),
        took.as_secs_f64()
    );
    (
        parent.join("demosite_1.0.0_arm64.deb"),
        parent.join("demosite-dbgsym_1.0.0_arm64.deb"),
    )
}

#[test]
fn debian_example_cross_builds_for_arm64_like_a_native_build() {
    require_cross_tools();
    let tmp = scratch("cross-");
    let (deb, dbgsym) = cross_build_example(&tmp.path().join("pip"), "", &[]);
    assert_eq!(deb_field(&deb, "Architecture"), "arm64");
    assert_eq!(deb_field(&dbgsym, "Architecture"), "arm64");
    let depends = deb_field(&deb, "Depends");
    eprintln!("cross-built demosite: Depends: {depends}");
    // python3.11 on the host; libc6 at the version arm64's symbols file gives MarkupSafe's aarch64
    // extension (aarch64's oldest glibc symbols are 2.17; amd64's extension needs 2.14).
    assert!(
        depends.contains(&format!("python3.{}", python_minor()))
            && depends.contains("libc6 (>= 2.17)")
            && depends.contains("adduser"),
        "{depends}"
    );
    let unpacked = tmp.path().join("unpacked-pip");
    unpack(&deb, &unpacked);
    unpack(&dbgsym, &unpacked.join("dbgsym"));
    let machines = elf_machines(&unpacked);
    assert!(
        machines.len() >= 2,
        "the extension module and its debug file: {machines:?}"
    );
    for (path, machine) in &machines {
        assert_eq!(*machine, EM_AARCH64, "{} is not aarch64", path.display());
    }
    let build_dir = tmp.path().join("pip/demosite-1.0.0");
    let naming = files_naming(&unpacked, &build_dir.to_string_lossy());
    assert!(
        naming.is_empty(),
        "files name the build directory: {naming:#?}"
    );
    for package in [&deb, &dbgsym] {
        let complaints = lintian_complaints(package);
        assert!(
            complaints.is_empty(),
            "lintian on {}: {complaints:#?}",
            package.display()
        );
    }

    // The venv is the one a native build makes, but for MarkupSafe's wheel (its extension module,
    // WHEEL and RECORD) and the SBOM that lists it: console scripts, RECORDs, pyvenv.cfg and links
    // are byte for byte the same.
    let native = build_copy(
        &common::repo().join("debian-example"),
        &tmp.path().join("native"),
        "demosite-1.0.0",
    );
    let native_unpacked = tmp.path().join("unpacked-native");
    unpack(&native[0].1, &native_unpacked);
    let venv = Path::new("opt/venvs/demosite");
    let cross_files = relative_files(&unpacked.join(venv));
    let native_files: Vec<PathBuf> = relative_files(&native_unpacked.join(venv))
        .into_iter()
        .map(|p| {
            PathBuf::from(
                p.to_string_lossy()
                    .replace("x86_64-linux-gnu", "aarch64-linux-gnu"),
            )
        })
        .collect();
    assert_eq!(
        cross_files, native_files,
        "the venv's layout differs from a native build's"
    );
    let differ: Vec<&PathBuf> = cross_files
        .iter()
        .filter(|p| {
            let native_path = native_unpacked
                .join(venv)
                .join(p.to_string_lossy().replace("aarch64", "x86_64"));
            let (a, b) = (unpacked.join(venv).join(p), native_path);
            match (fs::read_link(&a), fs::read_link(&b)) {
                (Ok(x), Ok(y)) => x != y,
                _ => fs::read(&a).unwrap() != fs::read(&b).unwrap(),
            }
        })
        .collect();
    let expected: Vec<PathBuf> = [
        "demosite.cdx.json",
        "lib/python3.11/site-packages/markupsafe-3.0.4.dist-info/RECORD",
        "lib/python3.11/site-packages/markupsafe-3.0.4.dist-info/WHEEL",
        "lib/python3.11/site-packages/markupsafe/_speedups.cpython-311-aarch64-linux-gnu.so",
    ]
    .iter()
    .map(|p| {
        p.replace("python3.11", &format!("python3.{}", python_minor()))
            .replace("311", &format!("3{}", python_minor()))
    })
    .map(PathBuf::from)
    .collect();
    let mut expected = expected;
    expected.sort();
    let differ: Vec<PathBuf> = differ.into_iter().cloned().collect();
    assert_eq!(
        differ, expected,
        "files that differ from the native build's"
    );

    // uv selects the host's wheels too (--python-platform), into the same layout.
    let (uv_deb, _) = cross_build_example(
        &tmp.path().join("uv"),
        "override_dh_rustvenv:\n\tdh_rustvenv --installer uv\n",
        &[common::uv_wheel()],
    );
    let uv_unpacked = tmp.path().join("unpacked-uv");
    unpack(&uv_deb, &uv_unpacked);
    assert_eq!(
        relative_files(&uv_unpacked.join(venv)),
        cross_files,
        "uv's venv differs from pip's"
    );
    for (path, machine) in elf_machines(&uv_unpacked) {
        assert_eq!(machine, EM_AARCH64, "{} is not aarch64", path.display());
    }
    assert_eq!(deb_field(&uv_deb, "Depends"), depends);
    assert!(lintian_complaints(&uv_deb).is_empty());
}

/// The cross build of `package` fails; returns dh_rustvenv's error line (and prints it).
fn cross_build_fails(package: &SourcePackage) -> String {
    let (output, took) = cross_build(&package.dir, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "the cross build succeeded:\n{stderr}"
    );
    eprintln!("the cross build failed in {:.1} s", took.as_secs_f64());
    let line = stderr
        .lines()
        .find(|l| l.starts_with("dh_rustvenv: error: "))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    eprintln!("{line}");
    line.to_owned()
}

#[test]
fn compiled_code_without_an_arm64_wheel_fails_the_cross_build_clearly() {
    require_cross_tools();
    let minor = python_minor();
    let needed = format!("cross builds need a wheel for cp3{minor}-cp3{minor}-manylinux_2_");
    let how = format!("--download-for=3.{minor}@arm64");
    let tmp = scratch("cross-fail-");

    // An sdist with a C extension among the requirements.
    let package = SourcePackage::new(tmp.path(), "crosssdist");
    let line = cross_build_fails(&package);
    assert!(
        line.contains("package crosssdist: installing requirements.txt: fastsum has compiled code")
            && line.contains(&needed)
            && line.contains("_aarch64")
            && line.contains(&how),
        "{line}"
    );

    // uv, told the host's platform, refuses the wheel it builds from the sdist for this machine.
    let uv = SourcePackage::new(&tmp.path().join("uv"), "crossuv");
    let uv_wheel = common::uv_wheel();
    fs::copy(
        &uv_wheel,
        uv.dir
            .join("wheelhouse")
            .join(uv_wheel.file_name().unwrap()),
    )
    .unwrap();
    uv.rules("override_dh_rustvenv:\n\tdh_rustvenv --wheelhouse wheelhouse --installer uv\n");
    let line = cross_build_fails(&uv);
    assert!(
        line.contains(
            "package crossuv: installing requirements.txt: fastsum==1.0 has compiled code"
        ) && line.contains(&needed)
            && line.contains(&how),
        "{line}"
    );

    // The project itself with a C extension.
    let project = SourcePackage::new(&tmp.path().join("project"), "crossproject");
    fs::remove_dir_all(project.dir.join("src")).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("tests/fixtures/fastsum/."))
        .arg(&project.dir));
    project.write("requirements.txt", "greetlib==1.0\n");
    let line = cross_build_fails(&project);
    assert!(
        line.contains("package crossproject: installing the source package from")
            && line.contains("fastsum has compiled code")
            && line.contains(&needed),
        "{line}"
    );
    // Nothing of the build is left in the source tree.
    assert!(!project.dir.join("build").exists());
}

#[test]
fn a_pure_python_sdist_cross_builds() {
    require_cross_tools();
    let tmp = scratch("cross-pure-");
    let package = SourcePackage::new(tmp.path(), "crosspure");
    package.write("requirements.txt", "greetlib==1.0\n");
    // fixtureapp without fastsum: pure Python, with a console script.
    common::edit(
        &package.dir,
        "pyproject.toml",
        "dependencies = [\"greetlib\", \"fastsum\"]",
        "dependencies = [\"greetlib\"]",
    );
    // greetlib as an sdist only, made here with Debian's setuptools.
    let wheelhouse = package.dir.join("wheelhouse");
    for entry in fs::read_dir(&wheelhouse).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("greetlib-")
        {
            fs::remove_file(path).unwrap();
        }
    }
    let source = tmp.path().join("greetlib");
    run(Command::new("cp")
        .arg("-a")
        .arg(common::repo().join("tests/fixtures/greetlib"))
        .arg(&source));
    run(Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
        ])
        .arg(&wheelhouse)
        .current_dir(&source));
    let (output, took) = cross_build(&package.dir, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "cross build with a pure-Python sdist: {:.1} s",
        took.as_secs_f64()
    );
    let deb = tmp.path().join("crosspure_1.0_arm64.deb");
    let unpacked = tmp.path().join("unpacked");
    unpack(&deb, &unpacked);
    let site = unpacked.join(format!(
        "opt/venvs/crosspure/lib/python3.{}/site-packages",
        python_minor()
    ));
    assert!(site.join("greetlib-1.0.dist-info/RECORD").is_file());
    assert!(site.join("fixtureapp").is_dir());
    let script = fs::read_to_string(unpacked.join("opt/venvs/crosspure/bin/fixtureapp")).unwrap();
    assert!(
        script.starts_with("#!/opt/venvs/crosspure/bin/python\n"),
        "{script}"
    );
    assert!(elf_machines(&unpacked).is_empty());
    assert!(
        files_naming(&unpacked, &package.dir.to_string_lossy()).is_empty(),
        "files name the build directory"
    );
}

#[test]
fn a_lock_file_cross_builds() {
    require_cross_tools();
    let tmp = scratch("cross-lock-");
    let source = common::lock::lock_source(tmp.path(), "crosslock", "");
    let greetlib = common::lock::artifact("greetlib-");
    source.write(
        "pylock.toml",
        &format!(
            "lock-version = \"1.0\"\nrequires-python = \">=3.9\"\ncreated-by = \"dh-rustvenv tests\"\n\n\
             [[packages]]\nname = \"greetlib\"\nversion = \"1.0\"\n\n\
             [[packages.wheels]]\nname = \"{g}\"\nurl = \"https://files.example/packages/{g}\"\n\
             hashes = {{ sha256 = \"{h}\" }}\n",
            g = greetlib.file_name,
            h = greetlib.sha256
        ),
    );
    let (output, took) = cross_build(&source.dir, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("cross build from pylock.toml: {:.1} s", took.as_secs_f64());
    let unpacked = tmp.path().join("unpacked");
    unpack(&tmp.path().join("crosslock_1.0_arm64.deb"), &unpacked);
    let site = unpacked.join(format!(
        "opt/venvs/crosslock/lib/python3.{}/site-packages",
        python_minor()
    ));
    let mut dists: Vec<String> = fs::read_dir(&site)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dist-info"))
        .collect();
    dists.sort();
    assert_eq!(
        dists,
        ["fixtureapp-1.0.dist-info", "greetlib-1.0.dist-info"]
    );
}
