//! A run changes the venv directory and writes its outputs all or nothing: files put in the venv
//! directory before dh_rustvenv ran survive a failure and a second run, outputs that cannot all be
//! written leave none written, a venv directory that leads out of the package tree is refused, and
//! the late stage in a copy of a built tree acts on the copy only.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SourcePackage, run, run_unchecked, scratch};

/// Every entry under `dir`, relative, with its mode and content (a symlink's target), for comparing
/// trees.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let metadata = e.path().symlink_metadata().unwrap();
            let content = if metadata.is_symlink() {
                fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if metadata.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                (metadata.permissions().mode(), content),
            )
        })
        .collect()
}

/// The outputs a run writes outside the venv, with their content ("" when missing).
fn outputs(source: &SourcePackage, package: &str) -> Vec<(String, String)> {
    [
        format!("debian/{package}.substvars"),
        format!("debian/{package}.postinst.debhelper"),
        format!("debian/{package}.prerm.debhelper"),
        format!("debian/{package}.postrm.debhelper"),
        format!("debian/{package}/usr/share/lintian/overrides/{package}"),
        format!("debian/.debhelper/rustvenv/{package}/state.json"),
    ]
    .into_iter()
    .map(|path| {
        let content = fs::read_to_string(source.dir.join(&path)).unwrap_or_default();
        (path, content)
    })
    .collect()
}

/// No temporary file of a run is left anywhere under `dir`.
fn assert_no_temporaries(dir: &Path) {
    let left: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.ends_with(".dh-rustvenv-tmp")
                || name.ends_with(".dh-rustvenv-new")
                || name.ends_with(".dh-rustvenv-partial")
        })
        .map(|e| e.into_path())
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

fn dh_rustvenv(source: &SourcePackage, extra: &[&str]) -> std::process::Output {
    let mut command = source.dh_rustvenv();
    command.args(source.offline_args()).args(extra);
    run_unchecked(&mut command)
}

/// Runs dh_rustvenv twice (the second time without dh_prep): each run succeeds, builds the venv, and
/// keeps `relative`, put in the venv directory before, with its `content`.
fn two_runs_keep(source: &SourcePackage, venv: &Path, relative: &str, content: &str) {
    for round in ["first", "second"] {
        let output = dh_rustvenv(source, &[]);
        assert!(
            output.status.success(),
            "{round} run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            fs::read_to_string(venv.join(relative)).unwrap(),
            content,
            "after the {round} run"
        );
        assert!(venv.join("bin/fixtureapp").exists());
    }
}

#[test]
fn files_in_the_venv_directory_survive_a_failure_and_a_second_run() {
    let tmp = scratch("txn-pre-");
    let source = SourcePackage::new(tmp.path(), "rvpre");
    let venv = source.dir.join("debian/rvpre/opt/venvs/rvpre");
    source.write("debian/rvpre/opt/venvs/rvpre/etc/pre.conf", "setting = 1\n");

    // A first run keeps the file, and so does a second one without dh_prep.
    two_runs_keep(&source, &venv, "etc/pre.conf", "setting = 1\n");
    assert_no_temporaries(&source.dir);

    // A third run fails (a requirement that cannot be found): the venv directory holds what it held
    // before the run, and no output changes.
    let built = listing(&venv);
    let written = outputs(&source, "rvpre");
    source.write(
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\nnosuchdist==1.0\n",
    );
    let output = dh_rustvenv(&source, &[]);
    assert_eq!(
        output.status.code(),
        Some(255),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(listing(&venv), built, "the venv directory changed");
    assert_eq!(outputs(&source, "rvpre"), written, "an output changed");
    assert_no_temporaries(&source.dir);

    // From a clean package build directory, a file that names the source directory fails the audit,
    // after the earlier files were copied into the new venv: the failure leaves exactly the files
    // put there.
    fs::remove_dir_all(source.dir.join("debian")).unwrap();
    let fresh = SourcePackage::new(tmp.path(), "rvpre");
    fresh.write("debian/rvpre/opt/venvs/rvpre/etc/pre.conf", "setting = 1\n");
    fresh.write(
        "debian/rvpre/opt/venvs/rvpre/etc/leak.conf",
        &format!("root = {}\n", fresh.dir.display()),
    );
    let before = listing(&venv);
    let output = dh_rustvenv(&fresh, &[]);
    assert_eq!(output.status.code(), Some(255));
    assert_eq!(listing(&venv), before);
    assert!(!fresh.dir.join("debian/rvpre.substvars").exists());
    assert!(!fresh.dir.join("debian/rvpre.postinst.debhelper").exists());
}

#[test]
fn outputs_are_written_all_or_nothing() {
    let tmp = scratch("txn-out-");
    let source = SourcePackage::new(tmp.path(), "rvout");
    source.write("debian/rvout/opt/venvs/rvout/etc/pre.conf", "kept\n");
    source.write("debian/rvout.substvars", "misc:Depends=adduser\n");
    // The directory of the lintian overrides cannot be made: a file stands in its way.
    source.write("debian/rvout/usr/share/lintian", "in the way\n");
    let venv = source.dir.join("debian/rvout/opt/venvs/rvout");
    let before = listing(&venv);
    let output = dh_rustvenv(&source, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("lintian"), "{stderr}");
    assert_eq!(listing(&venv), before);
    assert_eq!(
        fs::read_to_string(source.dir.join("debian/rvout.substvars")).unwrap(),
        "misc:Depends=adduser\n"
    );
    for script in ["postinst", "prerm", "postrm"] {
        assert!(
            !source
                .dir
                .join(format!("debian/rvout.{script}.debhelper"))
                .exists()
        );
    }
    assert!(
        !source
            .dir
            .join("debian/.debhelper/rustvenv/rvout/state.json")
            .exists()
    );
    assert_no_temporaries(&source.dir);
}

#[test]
fn a_venv_directory_leading_out_of_the_package_tree_is_refused() {
    let tmp = scratch("txn-out-of-tree-");
    let source = SourcePackage::new(tmp.path(), "rvlink");
    // An admin's venv, with its data, outside the package tree; debian/rvlink/opt/venvs leads there.
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("rvlink/data")).unwrap();
    fs::write(outside.join("rvlink/pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(outside.join("rvlink/data/db"), "precious\n").unwrap();
    fs::create_dir_all(source.dir.join("debian/rvlink/opt")).unwrap();
    std::os::unix::fs::symlink(&outside, source.dir.join("debian/rvlink/opt/venvs")).unwrap();
    let before = listing(&outside);
    let output = dh_rustvenv(&source, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("leads out of the package build directory"),
        "{stderr}"
    );
    assert_eq!(listing(&outside), before);

    // -P / would build over the system's /opt/venvs.
    fs::remove_file(source.dir.join("debian/rvlink/opt/venvs")).unwrap();
    let output = dh_rustvenv(&source, &["-P", "/"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("a system directory"), "{stderr}");
}

#[test]
fn the_late_stage_in_a_copy_of_a_built_tree_changes_only_the_copy() {
    let tmp = scratch("txn-copy-");
    let source = SourcePackage::new(tmp.path(), "rvcopy");
    let output = dh_rustvenv(&source, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let copy_dir = tmp.path().join("copy");
    fs::create_dir_all(&copy_dir).unwrap();
    run(Command::new("cp").arg("-a").arg(&source.dir).arg(&copy_dir));
    let copy = copy_dir.join("rvcopy-1.0");
    let original = listing(&source.dir);
    // rules add a script naming the staging path to the copy's venv, then run the late stage there.
    let script = copy.join("debian/rvcopy/opt/venvs/rvcopy/bin/added");
    fs::write(
        &script,
        format!(
            "#!{}/debian/rvcopy/opt/venvs/rvcopy/bin/python\n",
            copy.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut finish = Command::new(common::tool_dir().join("dh_rustvenv_finish"));
    finish.current_dir(&copy);
    common::with_tool_env(&mut finish);
    run(&mut finish);
    assert_eq!(
        fs::read_to_string(&script).unwrap(),
        "#!/opt/venvs/rvcopy/bin/python\n"
    );
    assert_eq!(listing(&source.dir), original, "the original tree changed");
    assert_no_temporaries(&copy);
}

/// Unmounts a file system when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn the_work_directory_on_another_file_system_is_no_obstacle() {
    let tmp = scratch("txn-xdev-");
    let source = SourcePackage::new(tmp.path(), "rvxdev");
    let work = source.dir.join("debian/.debhelper");
    fs::create_dir_all(&work).unwrap();
    // The venv is built in debian/rvxdev, the work directory is a tmpfs: moving the venv directory
    // aside and back crosses file systems.
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512m", "tmpfs"])
        .arg(&work));
    let _mount = Mount(work.clone());
    let venv = source.dir.join("debian/rvxdev/opt/venvs/rvxdev");
    source.write("debian/rvxdev/opt/venvs/rvxdev/etc/pre.conf", "kept\n");
    two_runs_keep(&source, &venv, "etc/pre.conf", "kept\n");
    let built = listing(&venv);
    source.write("requirements.txt", "nosuchdist==1.0\n");
    let output = dh_rustvenv(&source, &[]);
    assert_eq!(output.status.code(), Some(255));
    assert_eq!(listing(&venv), built, "the venv directory changed");
    assert_no_temporaries(&source.dir);
}
