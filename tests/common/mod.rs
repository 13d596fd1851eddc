//! Shared fixtures of the integration tests: a wheelhouse built without a package index, source
//! packages written from inline text, and helpers that run the real tools and show everything when
//! they fail.
#![allow(dead_code)]

pub mod arm64;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod cross;
pub mod lock;
pub mod lock_tools;

/// The top of this repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Checks every hash in every RECORD of the venv against the file as installed (PEP 376, PEP 627).
pub const VERIFY_RECORDS: &str = r#"
import base64, hashlib, importlib.metadata as metadata, sys
checked, wrong = 0, []
for dist in metadata.distributions():
    for file in dist.files or []:
        if file.hash is None:
            continue
        data = file.locate().read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.new(file.hash.mode, data).digest()).rstrip(b"=").decode()
        checked += 1
        if digest != file.hash.value or (file.size is not None and file.size != len(data)):
            wrong.append(str(file.locate()))
print(f"{checked} hashes checked")
sys.exit("RECORD does not match: " + ", ".join(wrong) if wrong else 0)
"#;

/// Runs [`VERIFY_RECORDS`] with a venv's `python`: panics when a hash does not match or when none was
/// checked (a venv whose RECORD files were all lost, or hold no hashes, checks nothing). Returns how
/// many hashes were checked.
pub fn verify_records(python: &Path) -> usize {
    let mut command = Command::new(python);
    command.args(["-c", VERIFY_RECORDS]).current_dir("/");
    let output = run(&mut command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let checked: usize = stdout
        .trim()
        .strip_suffix(" hashes checked")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no count of hashes checked\n{}",
                describe(&command, &output)
            )
        });
    assert!(checked > 0, "{}", describe(&command, &output));
    checked
}

/// A scratch directory for one test, under cargo's target directory, removed when dropped (kept, for
/// a look after a failure, when DH_RUSTVENV_KEEP_SCRATCH is set).
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .keep(std::env::var_os("DH_RUSTVENV_KEEP_SCRATCH").is_some())
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("creating a scratch directory")
}

/// `dpkg-buildpackage -us -uc -b` in the source package `dir`, as a user runs it with the installed
/// tools, offline from the tests' wheelhouse: pip finds nothing but it, and none of the tester's own
/// debhelper, dh_rustvenv or Perl settings reach the build.
pub fn offline_build_command(dir: &Path) -> Command {
    let mut command = Command::new("dpkg-buildpackage");
    command
        .args(["-us", "-uc", "-b"])
        .current_dir(dir)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", wheelhouse())
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("DH_VERBOSE")
        .env_remove("DH_OPTIONS")
        .env_remove("DEB_BUILD_OPTIONS")
        .env_remove("PERL5LIB");
    command
}

/// The wheelhouse every fixture installs from, built once per test process by
/// tests/fixtures/build_wheelhouse.py with Debian's setuptools and wheel: setuptools and wheel (the
/// build backend), greetlib (a pure-Python wheel) and fastsum (an sdist with a C extension linking
/// zlib).
pub fn wheelhouse() -> &'static Path {
    static WHEELHOUSE: OnceLock<PathBuf> = OnceLock::new();
    WHEELHOUSE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("wheelhouse-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        run(Command::new("/usr/bin/python3")
            .arg(repo().join("tests/fixtures/build_wheelhouse.py"))
            .arg(repo().join("tests/fixtures"))
            .arg(&dir));
        dir
    })
}

/// Debian's pip wheel (python3-pip-whl), which runs against a venv that has no pip:
/// `<venv>/bin/python <wheel>/pip list`.
pub fn pip_wheel() -> PathBuf {
    let mut wheels: Vec<PathBuf> = fs::read_dir("/usr/share/python-wheels")
        .expect("/usr/share/python-wheels (python3-pip-whl; run scripts/install-deps)")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("pip-"))
        .collect();
    wheels.sort();
    wheels
        .pop()
        .expect("no pip wheel in /usr/share/python-wheels")
}

/// The uv wheel scripts/install-deps downloads for the tests of `--installer uv`, from
/// `${XDG_CACHE_HOME:-$HOME/.cache}/dh-rustvenv/wheels`.
pub fn uv_wheel() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("dh-rustvenv/wheels");
    fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("uv-"))
        .unwrap_or_else(|| {
            panic!(
                "no uv wheel in {}: run scripts/install-deps, which downloads it",
                dir.display()
            )
        })
}

/// dh-rustvenv's own .deb among the tool packages `debs` (not the drop-in, not the -dbgsym).
pub fn tool_deb(debs: &[PathBuf]) -> Option<&PathBuf> {
    debs.iter().find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("dh-rustvenv_"))
    })
}

/// Runs a command and returns its output; panics with the command, directory, status, stdout and
/// stderr when it fails.
pub fn run(command: &mut Command) -> Output {
    let output = run_unchecked(command);
    assert!(output.status.success(), "{}", describe(command, &output));
    output
}

/// Runs a command and returns its output, whatever its status.
pub fn run_unchecked(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"))
}

/// Everything about a finished command, for assertion messages.
pub fn describe(command: &Command, output: &Output) -> String {
    format!(
        "command: {command:?}\ncwd: {:?}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        command.get_current_dir(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A directory holding the freshly built program under its three names (`dh_rustvenv`,
/// `dh_rustvenv_finish`, and `dh_virtualenv` as the dh-virtualenv drop-in installs it), made once per
/// test process.
pub fn tool_dir() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tools-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for name in ["dh_rustvenv", "dh_rustvenv_finish", "dh_virtualenv"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_dh_rustvenv"), dir.join(name)).unwrap();
        }
        dir
    })
}

/// Sets the environment that makes the freshly built dh_rustvenv (with dh_rustvenv_finish and the
/// drop-in's dh_virtualenv) and this repository's sequence add-ons the ones dh finds, as installing the
/// dh-rustvenv and dh-rustvenv-virtualenv packages would.
pub fn with_tool_env(command: &mut Command) -> &mut Command {
    let bin_dir = tool_dir();
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .env("PATH", format!("{}:{path}", bin_dir.display()))
        .env("PERL5LIB", repo().join("debhelper"))
        // A build machine writes bytecode: do not let this machine's setting hide what that does.
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("DH_VERBOSE")
        .env_remove("DH_OPTIONS")
        .env_remove("DH_INTERNAL_OPTIONS")
        .env_remove("DEB_BUILD_OPTIONS")
        .env_remove("DH_RUSTVENV_INSTALL_ROOT")
}

/// Holds the machine-wide lock for tests that install or remove packages, which dpkg cannot do at the
/// same time; released when dropped (closing the file releases flock(2)'s lock).
pub fn dpkg_lock() -> fs::File {
    machine_lock(&std::env::temp_dir().join("dh-rustvenv-tests-dpkg.lock"))
}

/// Holds an exclusive flock(2) lock on the file `path` (created if need be) until dropped: one test
/// process or thread at a time on this machine.
pub fn machine_lock(path: &Path) -> fs::File {
    use std::os::fd::AsRawFd;
    // flock(2) from the C library: `File::lock` needs Rust 1.89, and the crate builds with 1.85.
    unsafe extern "C" {
        fn flock(fd: std::os::raw::c_int, operation: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    const LOCK_EX: std::os::raw::c_int = 2;
    let file = fs::File::create(path)
        .unwrap_or_else(|e| panic!("creating the lock file {}: {e}", path.display()));
    loop {
        // SAFETY: the descriptor belongs to `file`, which is open for the whole call.
        if unsafe { flock(file.as_raw_fd(), LOCK_EX) } == 0 {
            return file;
        }
        let error = std::io::Error::last_os_error();
        assert!(
            error.kind() == std::io::ErrorKind::Interrupted,
            "locking the dpkg lock file: {error}"
        );
    }
}

/// A binary package of a fixture source package.
#[derive(Debug, Clone)]
pub struct Binary {
    pub name: String,
    pub architecture: String,
}

impl Binary {
    pub fn new(name: &str, architecture: &str) -> Binary {
        Binary {
            name: name.into(),
            architecture: architecture.into(),
        }
    }
}

/// A Debian source package around tests/fixtures/fixtureapp, with the wheelhouse vendored in
/// `wheelhouse/` and debian/rules installing from it only (`--no-index`).
pub struct SourcePackage {
    /// The unpacked source package, `<parent>/<source>-1.0`.
    pub dir: PathBuf,
    pub source: String,
}

/// The arguments that make pip install from the vendored wheelhouse only.
pub const OFFLINE_ARGS: &str =
    "--extra-pip-arg=--no-index --extra-pip-arg=--find-links=$(CURDIR)/wheelhouse";

impl SourcePackage {
    /// Writes a source package named `source` in `parent` with one binary package `source`,
    /// Architecture: any, whose venv holds fixtureapp, greetlib and fastsum.
    pub fn new(parent: &Path, source: &str) -> SourcePackage {
        SourcePackage::with_binaries(parent, source, &[Binary::new(source, "any")])
    }

    /// As [`SourcePackage::new`], with the given binary packages.
    pub fn with_binaries(parent: &Path, source: &str, binaries: &[Binary]) -> SourcePackage {
        let dir = parent.join(format!("{source}-1.0"));
        copy_tree(&repo().join("tests/fixtures/fixtureapp"), &dir);
        copy_tree(wheelhouse(), &dir.join("wheelhouse"));
        let package = SourcePackage {
            dir,
            source: source.into(),
        };
        package.write("requirements.txt", "greetlib==1.0\nfastsum==1.0\n");
        package.write("debian/source/format", "3.0 (native)\n");
        package.write(
            "debian/copyright",
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
             Files: *\nCopyright: 2026 dh-rustvenv developers\nLicense: Expat\n\n\
             License: Expat\n Permission is hereby granted, free of charge, to any person obtaining a copy of this\n \
             software, to deal in the Software without restriction.\n",
        );
        package.write(
            "debian/changelog",
            &format!(
                "{source} (1.0) unstable; urgency=medium\n\n  * Test fixture.\n\n -- dh-rustvenv tests <tests@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n"
            ),
        );
        let mut control = format!(
            "Source: {source}\nSection: python\nPriority: optional\nMaintainer: dh-rustvenv tests <tests@example.org>\n\
             Build-Depends: debhelper-compat (= 13), python3-venv\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n"
        );
        for binary in binaries {
            control.push_str(&format!(
                "\nPackage: {}\nArchitecture: {}\nDepends: ${{rustvenv:Depends}}, ${{misc:Depends}}\n\
                 Description: dh-rustvenv test package {}\n A venv with fixtureapp, built by dh-rustvenv's tests.\n",
                binary.name, binary.architecture, binary.name
            ));
        }
        package.write("debian/control", &control);
        package.rules(&format!(
            "override_dh_rustvenv:\n\tdh_rustvenv {OFFLINE_ARGS}\n"
        ));
        package
    }

    /// Links the console script into /usr/bin, with its manual page, as a package would.
    pub fn link_console_script(&self) {
        let name = &self.source;
        self.write(
            &format!("debian/{name}.links"),
            &format!("opt/venvs/{name}/bin/fixtureapp usr/bin/fixtureapp\n"),
        );
        self.write(
            "debian/fixtureapp.1",
            ".TH FIXTUREAPP 1\n.SH NAME\nfixtureapp \\- print what dh-rustvenv's tests check\n.SH SYNOPSIS\n.B fixtureapp\n",
        );
        self.write(&format!("debian/{name}.manpages"), "debian/fixtureapp.1\n");
    }

    /// [`OFFLINE_ARGS`] for running dh_rustvenv by hand in this source package.
    pub fn offline_args(&self) -> Vec<String> {
        OFFLINE_ARGS
            .replace("$(CURDIR)", &self.dir.to_string_lossy())
            .split(' ')
            .map(str::to_owned)
            .collect()
    }

    /// Writes debian/rules: `dh $@ --with rustvenv`, then `extra` (override targets).
    pub fn rules(&self, extra: &str) {
        self.write(
            "debian/rules",
            &format!("#!/usr/bin/make -f\n\n%:\n\tdh $@ --with rustvenv\n\n{extra}"),
        );
        make_executable(&self.dir.join("debian/rules"));
    }

    /// Writes a file of the source package, creating its directory.
    pub fn write(&self, relative: &str, content: &str) {
        let path = self.dir.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
    }

    /// Runs dpkg-buildpackage with `args` (such as `-b`) and returns its output, whatever its status.
    pub fn dpkg_buildpackage_unchecked(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new("dpkg-buildpackage");
        command
            .args(["-us", "-uc"])
            .args(args)
            .current_dir(&self.dir);
        with_tool_env(&mut command);
        for (name, value) in env {
            command.env(name, value);
        }
        run_unchecked(&mut command)
    }

    /// Runs dpkg-buildpackage with `args` and returns the .deb files it wrote, by package name.
    pub fn build(&self, args: &[&str]) -> Vec<(String, PathBuf)> {
        let output = self.dpkg_buildpackage_unchecked(args, &[]);
        assert!(
            output.status.success(),
            "dpkg-buildpackage {args:?} failed in {}:\n{}",
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        self.debs()
    }

    /// The .deb files beside the source package, by package name; automatic -dbgsym packages are left
    /// out.
    pub fn debs(&self) -> Vec<(String, PathBuf)> {
        debs_in(self.dir.parent().unwrap())
    }

    /// Runs debian/rules with `target` (such as `clean`).
    pub fn rules_target(&self, target: &str) -> Output {
        let mut command = Command::new("debian/rules");
        command.arg(target).current_dir(&self.dir);
        with_tool_env(&mut command);
        run(&mut command)
    }

    /// A dh_rustvenv command run in the source package, with the tool environment.
    pub fn dh_rustvenv(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dh_rustvenv"));
        command.current_dir(&self.dir);
        with_tool_env(&mut command);
        command
    }
}

/// The .deb files in `dir`, by package name, sorted; automatic -dbgsym packages are left out.
pub fn debs_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut debs: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .split('_')
                    .next()
                    .unwrap()
                    .to_owned(),
                p,
            )
        })
        .filter(|(name, _)| !name.ends_with("-dbgsym"))
        .collect();
    debs.sort();
    debs
}

/// Copies the source package `source` to `parent/name` and builds it with dpkg-buildpackage -b -d (the
/// add-on comes from this repository, not from an installed dh-sequence-rustvenv); returns the .debs
/// in `parent`, -dbgsym packages left out.
pub fn build_copy(source: &Path, parent: &Path, name: &str) -> Vec<(String, PathBuf)> {
    fs::create_dir_all(parent).unwrap();
    let dir = parent.join(name);
    run(Command::new("cp").arg("-a").arg(source).arg(&dir));
    let mut command = Command::new("dpkg-buildpackage");
    command.args(["-us", "-uc", "-b", "-d"]).current_dir(&dir);
    with_tool_env(&mut command);
    let started = std::time::Instant::now();
    run(&mut command);
    eprintln!(
        "built {} in {:.0} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    debs_in(parent)
}

/// Builds dh-rustvenv's own binary packages from a copy of this repository in `dir`, with
/// dpkg-buildpackage (without its tests, unoptimized, with the crates from crates.io as a developer
/// builds it, and with cargo's target directory kept under cargo's own, so that a second build is
/// quick); returns the .debs of dh-rustvenv and dh-rustvenv-virtualenv.
pub fn build_tool_packages(dir: &Path) -> Vec<PathBuf> {
    let copy = dir.join("dh-rustvenv");
    fs::create_dir_all(&copy).unwrap();
    run(Command::new("sh")
        .arg("-c")
        .arg("tar -C \"$0\" --exclude=./target --exclude=./.git -cf - . | tar -C \"$1\" -xf -")
        .arg(repo())
        .arg(&copy));
    run(Command::new("dpkg-buildpackage")
        .args(["-us", "-uc", "-b"])
        .env("DEB_BUILD_OPTIONS", "nocheck noopt")
        .env("DEB_BUILD_PROFILES", "pkg.dh-rustvenv.crates-io")
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-build"),
        )
        .current_dir(&copy));
    let debs: Vec<PathBuf> = debs_in(dir).into_iter().map(|(_, path)| path).collect();
    assert_eq!(debs.len(), 2, "{debs:?}");
    debs
}

/// The dh-rustvenv and dh-rustvenv-virtualenv .debs to build packages with on the Debian release
/// `release` (bookworm, trixie).
///
/// This is the one place the release tests get the tool from: dh-rustvenv's own source package built
/// for `release` with sbuild ([`sbuild_tool_packages`]), as that release's users build it.
pub fn release_tool_packages(release: &str) -> Vec<PathBuf> {
    sbuild_tool_packages(release)
}

/// `~/.cache/<what>`, created.
pub fn cache_dir(what: &str) -> PathBuf {
    let dir = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .join(".cache")
        .join(what);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Installs those of `packages` that are not installed on this machine (under the dpkg lock); with
/// all of them there, dpkg is left alone.
pub fn install_host_tools(packages: &[&str]) {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let status = run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]));
            !String::from_utf8_lossy(&status.stdout).contains("ok installed")
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let _lock = dpkg_lock();
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"));
}

/// Makes `target` with mmdebstrap unless it exists (under a temporary name first, so that an
/// interrupted run leaves no half tarball under the real name). Tests that need the same tarball
/// wait for each other: one makes it, the others find it made.
///
/// The lock file and the temporary tarball are hidden (`.<name>.lock`): sbuild's unshare mode takes
/// the first file it reads in `~/.cache/sbuild` whose name starts with `<release>-<arch>.t` as the
/// chroot, which could be an empty `bookworm-amd64.tar.zst.lock`.
pub fn mmdebstrap_once(target: &Path, args: &[&str]) {
    if target.exists() {
        return;
    }
    let name = target.file_name().unwrap().to_string_lossy();
    let _lock = machine_lock(&target.with_file_name(format!(".{name}.lock")));
    if target.exists() {
        return;
    }
    let partial =
        target.with_file_name(format!(".{}.{}.partial.tar.zst", name, std::process::id()));
    let started = std::time::Instant::now();
    run(Command::new("mmdebstrap").args(args).arg(&partial));
    fs::rename(&partial, target).unwrap();
    eprintln!(
        "made {} in {:.0} s",
        target.display(),
        started.elapsed().as_secs_f64()
    );
}

/// sbuild, mmdebstrap and uidmap installed, root's subordinate ids (which sbuild's unshare mode maps),
/// and the chroot tarball of `release` (`~/.cache/sbuild/<release>-amd64.tar.zst`, made from the
/// Debian archive with `mmdebstrap --variant=buildd` once and kept for later runs); returns the
/// tarball.
pub fn prepare_sbuild(release: &str) -> PathBuf {
    install_host_tools(&["sbuild", "mmdebstrap", "uidmap"]);
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with("root:")) {
            fs::write(file, format!("{text}root:100000:65536\n")).unwrap();
        }
    }
    let tarball = cache_dir("sbuild").join(format!("{release}-amd64.tar.zst"));
    mmdebstrap_once(&tarball, &["--variant=buildd", release]);
    tarball
}

/// dh-rustvenv's source package (.dsc, orig tarball, orig-vendor tarball of the crates), made from
/// the working tree by scripts/source-package once per test process; returns the .dsc. Needs
/// crates.io once, for `cargo vendor`.
pub fn tool_source_package() -> &'static Path {
    static DSC: OnceLock<PathBuf> = OnceLock::new();
    DSC.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("source-package-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        run(Command::new(repo().join("scripts/source-package")).arg(&dir));
        fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "dsc"))
            .expect("scripts/source-package wrote a .dsc")
    })
}

/// Builds dh-rustvenv's own binary packages for `release` ("bookworm" or "trixie") with sbuild in
/// unshare mode, offline, from [`tool_source_package`]: bookworm with the build profile
/// pkg.dh-rustvenv.vendor (cargo-web, rustc-web and the vendored crates), later releases with the
/// archive's cargo, rustc and librust-*-dev. Built once per release and test process, in
/// `<cargo's test tmpdir>/sbuild-tools-<release>-<pid>`, whose build log is `sbuild.log`. Returns the
/// .debs of dh-rustvenv and dh-rustvenv-virtualenv (-dbgsym left out), for `--extra-package`.
///
/// # Panics
///
/// When sbuild fails, with the last lines of its log.
pub fn sbuild_tool_packages(release: &str) -> Vec<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<(String, Vec<PathBuf>)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, debs)) = built.iter().find(|(r, _)| r == release) {
        return debs.clone();
    }
    prepare_sbuild(release);
    let dsc = tool_source_package();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sbuild-tools-{release}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new("sbuild");
    command.args([
        "--chroot-mode=unshare",
        "-d",
        release,
        "--arch-all",
        "--no-run-lintian",
        "--no-run-autopkgtest",
        "--no-run-piuparts",
    ]);
    if release == "bookworm" {
        command.arg("--profiles=pkg.dh-rustvenv.vendor");
    }
    let started = std::time::Instant::now();
    let output = run_unchecked(command.arg(dsc).current_dir(&dir));
    let log = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "build"))
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_else(|| describe(&command, &output));
    fs::write(dir.join("sbuild.log"), &log).unwrap();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    assert!(
        output.status.success() && log.contains("Status: successful"),
        "sbuild of dh-rustvenv for {release} failed; log: {}; its last lines:\n{}",
        dir.join("sbuild.log").display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "sbuild built dh-rustvenv for {release} in {:.0} s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let debs: Vec<PathBuf> = debs_in(&dir).into_iter().map(|(_, path)| path).collect();
    assert_eq!(debs.len(), 2, "{release}: {debs:?}");
    built.push((release.to_owned(), debs.clone()));
    debs
}

/// The sha256 of a file, in hex, from sha256sum.
pub fn sha256(path: &Path) -> String {
    let output = run(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The file of the wheelhouse whose name starts with `prefix`.
pub fn wheelhouse_file(prefix: &str) -> PathBuf {
    fs::read_dir(wheelhouse())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("the wheelhouse has no {prefix}* file"))
}

/// A field of a .deb's control file.
pub fn deb_field(deb: &Path, field: &str) -> String {
    let output = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(field));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The paths in a .deb's data, without the leading `.` (symlinks without their target).
pub fn deb_paths(deb: &Path) -> Vec<String> {
    let output = run(Command::new("dpkg-deb").arg("--contents").arg(deb));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(" ./").map(|(_, path)| path))
        .map(|path| path.split(" -> ").next().unwrap().trim_end_matches('/'))
        .filter(|path| !path.is_empty())
        .map(|path| format!("/{path}"))
        .collect()
}

/// Files under `root` whose content names `needle` (what `grep -rl` would list).
pub fn files_naming(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if entry.file_type().is_file() {
            let content = fs::read(entry.path()).unwrap_or_default();
            if content
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(entry.into_path());
            }
        }
    }
    found
}

/// The section names of an ELF file, as `readelf -S` shows them.
pub fn elf_sections(path: &Path) -> Vec<String> {
    let output = run(Command::new("readelf").args(["-S", "-W"]).arg(path));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Runs the installed demosite as its unit would (as the service user), on a free port of a
/// configuration written in `scratch`, and checks the page it serves and /healthz.
pub fn serve_demosite(scratch: &Path) {
    let config = scratch.join("demosite.conf");
    run(Command::new("chmod").arg("a+rx").arg(scratch));
    serve_demosite_with(
        &config,
        &config,
        "Hello from the test",
        std::time::Duration::from_secs(30),
        |argv| {
            let mut command = Command::new(argv[0]);
            command.args(&argv[1..]);
            command
        },
    );
}

/// Runs the installed demosite as its unit would: `runuser -u demosite -- /opt/venvs/demosite/bin/demosite
/// serve --config <served_config>`, spawned as `launch` makes that argument list a command (as is, or
/// in a chroot), in a process group of its own. Its configuration is written to `config` (which the
/// server reads as `served_config`) with a free port of 127.0.0.1 and `greeting`. Checks that the page
/// shows the greeting and the venv's path and that /healthz answers `ok` within `patience`; the server
/// and everything it started are ended. Returns the page.
pub fn serve_demosite_with(
    config: &Path,
    served_config: &Path,
    greeting: &str,
    patience: std::time::Duration,
    launch: impl FnOnce(&[&str]) -> Command,
) -> String {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fs::write(
        config,
        format!("[demosite]\nbind = 127.0.0.1:{port}\nworkers = 1\ngreeting = {greeting}\n"),
    )
    .unwrap();
    run(Command::new("chmod").arg("a+r").arg(config));
    let served_config = served_config.to_string_lossy();
    let mut server = launch(&[
        "runuser",
        "-u",
        "demosite",
        "--",
        "/opt/venvs/demosite/bin/demosite",
        "serve",
        "--config",
        &served_config,
    ])
    .current_dir("/")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    // Its own process group: runuser, gunicorn's master and its workers end together.
    .process_group(0)
    .spawn()
    .unwrap();
    let group = format!("-{}", server.id());
    let deadline = Instant::now() + patience;
    let page = std::panic::catch_unwind(|| get(port, "/", deadline));
    let health = std::panic::catch_unwind(|| get(port, "/healthz", deadline));
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let _ = server.wait();
    // Nothing of the group may outlive the test.
    for _ in 0..100 {
        let alive = Command::new("kill")
            .args(["-0", "--", &group])
            .stderr(Stdio::null())
            .status();
        if !alive.is_ok_and(|s| s.success()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (page, health) = (
        page.unwrap_or_else(|e| std::panic::resume_unwind(e)),
        health.unwrap_or_else(|e| std::panic::resume_unwind(e)),
    );
    assert!(page.contains(&format!("<h1>{greeting}</h1>")), "{page}");
    assert!(page.contains("from /opt/venvs/demosite."), "{page}");
    assert_eq!(health, "ok\n");
    page
}

/// GET `path` from 127.0.0.1:`port`, retrying until `deadline`; the response body.
pub fn get(port: u16, path: &str, deadline: std::time::Instant) -> String {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut response = String::new();
            if stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1") {
                return response
                    .split_once("\r\n\r\n")
                    .map(|(_, body)| body.to_owned())
                    .unwrap_or_default();
            }
        }
        assert!(
            Instant::now() < deadline,
            "demosite did not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// lintian's errors and warnings about a .deb (its `E:` and `W:` lines).
pub fn lintian_complaints(deb: &Path) -> Vec<String> {
    let output = run_unchecked(
        Command::new("lintian")
            .args(["--tag-display-limit", "0"])
            .arg(deb),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .map(str::to_owned)
        .collect()
}

/// Purges a package if it is installed (a leftover of an earlier, failed run).
pub fn purge_if_installed(package: &str) {
    let status = run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
    if String::from_utf8_lossy(&status.stdout).contains("installed") {
        run(Command::new("dpkg").args(["--purge", package]));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes `content` to `dir/relative`, creating directories; `mode` for scripts.
pub fn write(dir: &Path, relative: &str, content: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Replaces `from` by `to` in `dir/relative`, which must contain it.
pub fn edit(dir: &Path, relative: &str, from: &str, to: &str) {
    let path = dir.join(relative);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{relative} lacks {from:?}:\n{text}");
    fs::write(&path, text.replace(from, to)).unwrap();
}

/// Keeps dh-rustvenv and the drop-in installed while it lives; then purges those of them that were
/// not installed before (a dh-rustvenv installed by scripts/example stays, at this build's version).
pub struct InstalledTools {
    installed_before: Vec<&'static str>,
}

impl InstalledTools {
    const PACKAGES: [&'static str; 2] = ["dh-rustvenv-virtualenv", "dh-rustvenv"];

    pub fn install(debs: &[std::path::PathBuf]) -> InstalledTools {
        let installed_before = InstalledTools::PACKAGES
            .into_iter()
            .filter(|p| {
                let status =
                    run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]));
                String::from_utf8_lossy(&status.stdout).contains("ok installed")
            })
            .collect();
        let tools = InstalledTools { installed_before };
        run(Command::new("dpkg").arg("-i").args(debs));
        tools
    }
}

impl Drop for InstalledTools {
    fn drop(&mut self) {
        for package in InstalledTools::PACKAGES {
            if !self.installed_before.contains(&package) {
                purge_if_installed(package);
            }
        }
    }
}

/// A process of this machine, from /proc/<pid>/stat, status, cmdline and cwd (proc(5)).
pub struct Process {
    pub pid: u32,
    /// `R`, `S`, `Z` (ended, not reaped yet), …
    pub state: char,
    pub ppid: u32,
    /// Its process group.
    pub group: u32,
    pub uid: u32,
    /// Its arguments, joined with spaces ("" for a zombie).
    pub cmdline: String,
    /// Its working directory ("" when it cannot be read).
    pub cwd: PathBuf,
}

/// The processes of this machine (those that end while they are read are left out).
pub fn processes() -> Vec<Process> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let (Ok(stat), Ok(status)) = (
            fs::read_to_string(entry.path().join("stat")),
            fs::read_to_string(entry.path().join("status")),
        ) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse().ok());
        if let (Some(state), Some(ppid), Some(group), Some(uid)) = (
            fields.first().and_then(|s| s.chars().next()),
            fields.get(1).and_then(|s| s.parse().ok()),
            fields.get(2).and_then(|s| s.parse().ok()),
            uid,
        ) {
            found.push(Process {
                pid,
                state,
                ppid,
                group,
                uid,
                cmdline: fs::read(entry.path().join("cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .unwrap_or_default(),
                cwd: fs::read_link(entry.path().join("cwd")).unwrap_or_default(),
            });
        }
    }
    found
}
