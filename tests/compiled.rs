//! Compiled code in the venv: extension modules built from sdists against system libraries, and
//! libraries bundled the way auditwheel bundles them, through the whole dh sequence with no override.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{SourcePackage, deb_field, dpkg_lock, elf_sections, purge_if_installed, run, scratch};

const SITE: &str = "lib/python3.11/site-packages";

/// The files of the bundled wheel in the wheelhouse, unpacked into `dir`.
fn unpacked_bundled_wheel(dir: &Path) -> std::path::PathBuf {
    let wheel = common::wheelhouse_file("bundled-");
    run(Command::new("/usr/bin/python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(dir));
    dir.to_path_buf()
}

fn with_bundled_requirement(parent: &Path, name: &str) -> SourcePackage {
    let source = SourcePackage::new(parent, name);
    source.write(
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\nbundled==1.0\n",
    );
    source
}

#[test]
fn bundled_libraries_and_system_libraries_survive_the_whole_sequence() {
    let tmp = scratch("elf-");
    let source = with_bundled_requirement(tmp.path(), "rvelf");
    let output = source.dpkg_buildpackage_unchecked(&["-b"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let libs = format!("{SITE}/bundled.libs");
    // The library patchelf rewrote four times, and the extension module patchelf gave a new RUNPATH and
    // NEEDED entries: GNU strip would break both, so both are kept and reported.
    for kept in [
        format!("{libs}/libfragile-5e6f7a8b.so"),
        format!("{SITE}/bundled/_ext.cpython-311-x86_64-linux-gnu.so"),
    ] {
        assert!(
            stderr.contains(&format!(
                "dh_rustvenv: warning: package rvelf: {kept}: stripping would break loading"
            )),
            "{kept} is not reported:\n{stderr}"
        );
    }
    let debs = source.debs();
    let deb = &debs[0].1;

    // Depends: the interpreter and the system libraries, and nothing for the bundled ones.
    let depends = deb_field(deb, "Depends");
    for expected in ["python3.11", "zlib1g (>= ", "libc6 (>= "] {
        assert!(
            depends.contains(expected),
            "Depends lacks {expected}: {depends}"
        );
    }
    assert!(
        !depends.contains("libhelper") && !depends.contains("libfragile"),
        "{depends}"
    );
    // dh_makeshlibs did not declare the private libraries: no shlibs file, no ldconfig trigger.
    let control = String::from_utf8_lossy(&run(Command::new("dpkg-deb").arg("-I").arg(deb)).stdout)
        .into_owned();
    assert!(
        !control.contains(" shlibs") && !control.contains(" triggers"),
        "{control}"
    );

    let extracted = tmp.path().join("extracted");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let venv = extracted.join("opt/venvs/rvelf");
    let wheel = unpacked_bundled_wheel(&tmp.path().join("wheel"));
    for kept in [
        "bundled.libs/libfragile-5e6f7a8b.so",
        "bundled/_ext.cpython-311-x86_64-linux-gnu.so",
    ] {
        assert_eq!(
            fs::read(venv.join(SITE).join(kept)).unwrap(),
            fs::read(wheel.join(kept)).unwrap(),
            "{kept}, which strip would break, is kept as pip installed it"
        );
    }
    for stripped in [
        venv.join(&libs).join("libhelper-1a2b3c4d.so"),
        venv.join(SITE)
            .join("fastsum/_speedups.cpython-311-x86_64-linux-gnu.so"),
    ] {
        let sections = elf_sections(&stripped);
        assert!(
            !sections
                .iter()
                .any(|s| s.starts_with(".debug_") || s == ".symtab"),
            "{}: {sections:?}",
            stripped.display()
        );
        assert!(
            sections.iter().any(|s| s == ".gnu_debuglink"),
            "{}: {sections:?}",
            stripped.display()
        );
    }
    // Their debug information is in the automatic -dbgsym package.
    let dbgsym = source
        .dir
        .parent()
        .unwrap()
        .join("rvelf-dbgsym_1.0_amd64.deb");
    let build_ids = deb_field(&dbgsym, "Build-Ids");
    assert_eq!(
        build_ids.split_whitespace().count(),
        2,
        "libhelper and fastsum: {build_ids}"
    );

    let _lock = dpkg_lock();
    purge_if_installed("rvelf");
    run(Command::new("dpkg").arg("-i").arg(deb));
    let python = Path::new("/opt/venvs/rvelf/bin/python");
    let total = run(Command::new(python)
        .args([
            "-c",
            "import bundled, fastsum; print(bundled.total(), fastsum.crc32(b'x'))",
        ])
        .current_dir("/"));
    assert_eq!(
        String::from_utf8_lossy(&total.stdout).trim(),
        "49 2363233923"
    );
    common::verify_records(python);
    run(Command::new("dpkg").args(["--purge", "rvelf"]));
    assert!(!Path::new("/opt/venvs/rvelf").exists());
}

#[test]
fn nostrip_leaves_elf_files_as_pip_installed_them_and_a_truncated_one_is_only_a_warning() {
    let tmp = scratch("elf-nostrip-");
    let source = with_bundled_requirement(tmp.path(), "rvnostrip");
    // An ELF header and nothing after it, shipped as package data.
    let mut truncated = fs::read("/bin/true").unwrap();
    truncated.truncate(120);
    fs::write(source.dir.join("src/fixtureapp/truncated.so"), truncated).unwrap();
    let mut pyproject = fs::read_to_string(source.dir.join("pyproject.toml")).unwrap();
    pyproject.push_str("\n[tool.setuptools.package-data]\nfixtureapp = [\"*.so\"]\n");
    source.write("pyproject.toml", &pyproject);

    let output = source.dpkg_buildpackage_unchecked(&["-b"], &[("DEB_BUILD_OPTIONS", "nostrip")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "dh_rustvenv: warning: package rvnostrip: {SITE}/fixtureapp/truncated.so: not a valid ELF file ("
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let extracted = tmp.path().join("extracted");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&source.debs()[0].1)
        .arg(&extracted));
    let venv = extracted.join("opt/venvs/rvnostrip");
    let wheel = unpacked_bundled_wheel(&tmp.path().join("wheel"));
    for file in [
        "bundled.libs/libfragile-5e6f7a8b.so",
        "bundled.libs/libhelper-1a2b3c4d.so",
        "bundled/_ext.cpython-311-x86_64-linux-gnu.so",
    ] {
        assert_eq!(
            fs::read(venv.join(SITE).join(file)).unwrap(),
            fs::read(wheel.join(file)).unwrap(),
            "{file} changed under nostrip"
        );
    }
    let sections = elf_sections(
        &venv
            .join(SITE)
            .join("fastsum/_speedups.cpython-311-x86_64-linux-gnu.so"),
    );
    assert!(
        sections.iter().any(|s| s == ".debug_info"),
        "the sdist-built module keeps its debug information: {sections:?}"
    );
}

#[test]
fn lintian_has_nothing_to_say_but_per_file_overrides_that_give_their_reason() {
    let tmp = scratch("elf-lintian-");
    let source = SourcePackage::new(tmp.path(), "rvlint");
    // pgver's module needs libpq but no libc function; bundled carries a library strip would break;
    // oddfiles has an executable module with no shebang and one that runs /usr/bin/env python3.
    source.write(
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\npgver==1.0\nbundled==1.0\noddfiles==1.0\n",
    );
    let debs = source.build(&["-b"]);
    let deb = &debs[0].1;
    let complaints = common::lintian_complaints(deb);
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");

    let extracted = tmp.path().join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted));
    let overrides =
        fs::read_to_string(extracted.join("usr/share/lintian/overrides/rvlint")).unwrap();
    let lines: Vec<&str> = overrides.lines().collect();
    let venv = "opt/venvs/rvlint";
    for expected in [
        format!(
            "rvlint: library-not-linked-against-libc [{venv}/{SITE}/pgver/_libpq.cpython-311-x86_64-linux-gnu.so]"
        ),
        format!(
            "rvlint: unstripped-binary-or-object [{venv}/{SITE}/bundled.libs/libfragile-5e6f7a8b.so]"
        ),
    ] {
        let at = lines.iter().position(|l| *l == expected);
        let at = at.unwrap_or_else(|| panic!("no {expected} in:\n{overrides}"));
        assert!(lines[at - 1].starts_with("# "), "no reason for {expected}");
    }
    // Every override names a file or a part of the venv.
    for line in lines.iter().filter(|l| !l.starts_with('#')) {
        assert!(line.ends_with(']') && line.contains(" ["), "{line}");
    }
    let module = |name: &str| extracted.join(venv).join(SITE).join("oddfiles").join(name);
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| fs::metadata(module(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("data.py"), 0o644, "executable-not-elf-or-script");
    assert_eq!(mode("tool.py"), 0o755);
    assert!(
        fs::read_to_string(module("tool.py"))
            .unwrap()
            .starts_with("#!/opt/venvs/rvlint/bin/python\n")
    );
}
