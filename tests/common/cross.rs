//! Cross builds for arm64 on this amd64 machine: the check that what they need is installed, the
//! build itself, and reading the machine of the ELF files a package holds.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{run, run_unchecked, with_tool_env};

/// `e_machine` of AArch64 (elf.h's EM_AARCH64).
pub const EM_AARCH64: u16 = 183;

/// Panics, saying what to run, unless arm64 is a foreign architecture of dpkg and
/// crossbuild-essential-arm64 and libc6:arm64 are installed (scripts/install-deps installs them).
pub fn require_cross_tools() {
    let foreign = run(Command::new("dpkg").arg("--print-foreign-architectures"));
    assert!(
        String::from_utf8_lossy(&foreign.stdout)
            .lines()
            .any(|a| a == "arm64"),
        "dpkg has no arm64 architecture: run scripts/install-deps (dpkg --add-architecture arm64)"
    );
    for package in ["crossbuild-essential-arm64", "libc6:arm64"] {
        let status =
            run_unchecked(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
        assert!(
            String::from_utf8_lossy(&status.stdout).contains("ok installed"),
            "{package} is not installed: run scripts/install-deps"
        );
    }
}

/// `dpkg-buildpackage -us -uc -b -d -a arm64` in `dir` with the freshly built tools, and `env`;
/// returns its output, whatever its status, and how long it took.
pub fn cross_build(dir: &Path, env: &[(&str, &str)]) -> (Output, std::time::Duration) {
    let mut command = Command::new("dpkg-buildpackage");
    command
        .args(["-us", "-uc", "-b", "-d", "-a", "arm64"])
        .current_dir(dir);
    with_tool_env(&mut command);
    for (name, value) in env {
        command.env(name, value);
    }
    let started = std::time::Instant::now();
    let output = run_unchecked(&mut command);
    (output, started.elapsed())
}

/// Unpacks the data of `deb` into `dir`.
pub fn unpack(deb: &Path, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dir));
}

/// Every ELF file under `root` (by its magic number, symlinks not followed), with its `e_machine`.
pub fn elf_machines(root: &Path) -> Vec<(PathBuf, u16)> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = fs::read(entry.path()).unwrap_or_default();
        if bytes.len() >= 20 && bytes.starts_with(b"\x7fELF") {
            // e_machine: two bytes at offset 18, in the byte order of EI_DATA (1: little endian).
            let pair = [bytes[18], bytes[19]];
            let machine = if bytes[5] == 1 {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            };
            found.push((entry.into_path(), machine));
        }
    }
    found
}

/// The files and symlinks under `root`, relative to it, sorted.
pub fn relative_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}
