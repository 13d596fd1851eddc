//! Test fixtures shared by the install stage's unit tests: a layout, an interpreter, an environment
//! and options as a build would have them.

use std::path::{Path, PathBuf};

use crate::debhelper::Environment;
use crate::interpreter::Interpreter;
use crate::layout::Layout;
use crate::options::{Installer, VenvOptions};

/// The layout of the package `demo` whose source directory is `source_dir`.
pub(super) fn layout(source_dir: &Path) -> Layout {
    Layout {
        package: "demo".into(),
        top: source_dir.to_path_buf(),
        source_dir: source_dir.to_path_buf(),
        staging_root: source_dir.join("debian/demo/opt/venvs/demo"),
        build_dir: source_dir.join("debian/demo"),
        build_dir_explicit: false,
        final_root: PathBuf::from("/opt/venvs/demo"),
        work_dir: source_dir.join("debian/.debhelper/rustvenv"),
    }
}

/// Debian 12's python3.11, with pip 23.0.1 and its wheel.
pub(super) fn interpreter() -> Interpreter {
    Interpreter {
        path: "/usr/bin/python3.11".into(),
        version: (3, 11, 2),
        soabi: String::new(),
        cc: "x86_64-linux-gnu-gcc".into(),
        cxx: String::new(),
        pip_wheel: Some("/usr/share/python-wheels/pip-23.0.1-py3-none-any.whl".into()),
        pip_version: Some("23.0.1".into()),
        pip_runner: Some("/usr/lib/python3/dist-packages/pip/__pip-runner__.py".into()),
        platform: crate::interpreter::Platform {
            machine: "x86_64".into(),
            glibc_minor: Some(36),
        },
    }
}

/// An environment that sets the four build flags (to `-CFLAGS` and so on), so that `dpkg-buildflags`
/// is not run.
pub(super) fn env() -> Environment {
    Environment {
        compiler_settings: ["CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"]
            .iter()
            .map(|n| (n.to_string(), format!("-{n}")))
            .collect(),
        ..Environment::default()
    }
}

/// Options with an index, an extra index and `--extra-pip-arg --no-index`; everything else off.
pub(super) fn options() -> VenvOptions {
    VenvOptions {
        python: "/usr/bin/python3".into(),
        requirements: None,
        sourcedirectory: None,
        install_suffix: None,
        index_url: Some("https://pypi.example/simple".into()),
        extra_index_url: vec!["https://extra.example/simple".into()],
        extra_pip_arg: vec!["--no-index".into()],
        preinstall: vec![],
        skip_install: false,
        allow_leaks: false,
        no_strip: false,
        no_sbom: false,
        recommends: Vec::new(),
        suggests: Vec::new(),
        ship_bytecode: false,
        ignore_library: vec![],
        extras: vec![],
        lock: None,
        groups: vec![],
        extra_virtualenv_arg: vec![],
        use_system_packages: false,
        pip_tool: None,
        upgrade_pip: false,
        upgrade_pip_to: None,
        require_hashes: false,
        wheelhouse: None,
        download: false,
        download_for: vec![],
        test: false,
        test_command: None,
        installer: Installer::Pip,
        with_pip: false,
        timings: false,
        buildsystem_destdir: None,
    }
}
