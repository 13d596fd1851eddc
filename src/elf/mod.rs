//! The venv's compiled code: which files are ELF, which are safe to strip, and what they need.
//!
//! Takes the relocated venv at `staging_root`. [`scan`] finds every ELF file by its header (not its
//! name) and reads, with goblin, its type, NEEDED, RPATH/RUNPATH, SONAME, build-id, whether it carries
//! debug information and whether its load segments show the layout patchelf leaves behind. [`strip()`]
//! strips what dh_strip would strip, the way it would, into a copy; it keeps a result only when it
//! re-parses and its load segments still satisfy the loader (offsets congruent to addresses), so a
//! library that stripping would damage is kept as pip installed it and reported. Debug information goes
//! to the automatic -dbgsym package as dh_strip puts it there. The next stages can rely on the
//! [`ElfFile`] list to resolve shared-library dependencies; the ELF tools later in the dh sequence are
//! told to leave the venv alone.
//!
//! One job per file; every item is re-exported here, so `crate::elf::X` keeps its one path:
//! - this file: the report's types, [`ElfFile`], [`ElfKind`], [`SkipReason`], [`ElfReport`].
//! - `parse.rs`: reading ELF files: [`scan`], [`parse()`], [`machine_of`], [`check_load_segments`].
//! - `strip.rs`: stripping them: [`strip()`], [`DebugSymbols`], [`record_build_ids`],
//!   [`remove_debug_files`].
//! - `stage.rs`: the stage as the pipeline runs it: [`no_strip`] (whether to strip at all) and
//!   [`strip_elf_files`] (scan, strip the selected files, report).
//!
//! `stage` uses `parse` and `strip`; `strip` uses `parse` (a stripped copy is checked with
//! [`check_load_segments`]); `parse` uses nothing of `strip`.

mod parse;
mod stage;
mod strip;

use std::fmt;
use std::path::PathBuf;

pub use parse::{check_load_segments, machine_of, parse, scan};
pub use stage::{debug_package_dir, no_strip, strip_elf_files};
pub use strip::{DebugSymbols, record_build_ids, remove_debug_files, strip};

/// One ELF file of the venv, as parsed before stripping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFile {
    /// The file, in the staging tree.
    pub path: PathBuf,
    /// A shared object (`ET_DYN` without the execute bits) or an executable (`ET_EXEC`, or `ET_DYN` with
    /// an execute bit: the rule dh_strip uses from compat 11 on).
    pub kind: ElfKind,
    /// Whether it is `ET_DYN` (a shared object or a position-independent executable), which lintian
    /// checks as a shared library.
    pub dynamic: bool,
    /// `e_machine`, the architecture it is built for (62 is x86-64, 183 AArch64).
    pub machine: u16,
    /// `DT_NEEDED`: the shared libraries it needs, by SONAME.
    pub needed: Vec<String>,
    /// `DT_RPATH` and `DT_RUNPATH` entries, as written (with `$ORIGIN` unexpanded).
    pub search_paths: Vec<String>,
    /// The entries of `DT_RPATH` (`"RPATH"`) and `DT_RUNPATH` (`"RUNPATH"`) that do not start with
    /// `$ORIGIN`, cleaned as `File::Spec->canonpath` cleans them, once each: directories of the machine
    /// a wheel was built on, which lintian reports (`custom-library-search-path`).
    pub foreign_search_paths: Vec<(&'static str, String)>,
    /// `DT_SONAME`, for libraries.
    pub soname: Option<String>,
    /// The GNU build-id, in hex.
    pub build_id: Option<String>,
    /// Whether it has `.debug_*` sections.
    pub has_debug_info: bool,
    /// Whether it has a symbol table (`SHT_SYMTAB`): what `file` calls "not stripped", and lintian
    /// reports as `unstripped-binary-or-object`.
    pub has_symtab: bool,
    /// Whether its load segments look like patchelf's rewriting (more than four `PT_LOAD`, segments
    /// added after the original ones), the layout that strip can break.
    pub patchelf_layout: bool,
}

/// What kind of ELF file, for the strip options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// A shared object: stripped with `--strip-unneeded`.
    SharedObject,
    /// An executable: stripped without `--strip-unneeded`.
    Executable,
    /// A relocatable object or core file: not stripped.
    Other,
}

/// Why an ELF file was left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// `DEB_BUILD_OPTIONS=nostrip`.
    NoStrip,
    /// Not a shared object or executable.
    NotStrippable,
    /// strip failed; its message.
    StripFailed(String),
    /// The stripped copy would not load: the segment that breaks the loader's rule.
    WouldBreakLoading(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NoStrip => write!(f, "DEB_BUILD_OPTIONS=nostrip"),
            SkipReason::NotStrippable => write!(f, "not a shared object or executable"),
            SkipReason::StripFailed(message) => write!(f, "strip failed: {message}"),
            SkipReason::WouldBreakLoading(why) => {
                write!(
                    f,
                    "stripping would break loading ({why}); kept as installed"
                )
            }
        }
    }
}

/// What the ELF stage found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfReport {
    /// Every ELF file of the venv.
    pub files: Vec<ElfFile>,
    /// Files stripped (they changed).
    pub stripped: Vec<PathBuf>,
    /// Files left alone, and why.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// Files that start like ELF but cannot be parsed, with goblin's message.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Build-ids of the debug files added to the -dbgsym package.
    pub build_ids: Vec<String>,
    /// The debug files this run wrote (a file already there is not listed), to remove if the build
    /// fails later.
    pub debug_files: Vec<PathBuf>,
}

/// The ELF machine (`e_machine`) of a Debian architecture's programs: 183 (EM_AARCH64) for arm64;
/// None for an architecture not listed here.
///
/// # References
/// The System V ABI's `e_machine` values (elf.h), and dpkg's cputable.
pub fn machine_of_architecture(arch: &str) -> Option<u16> {
    Some(match arch {
        "amd64" => 62,
        "i386" => 3,
        "arm64" => 183,
        "armhf" | "armel" => 40,
        "ppc64el" => 21,
        "s390x" => 22,
        "riscv64" => 243,
        _ => return None,
    })
}

/// In a cross build, every ELF file of the venv must be built for the host: one built for another
/// machine (an extension module compiled on the build machine, as uv does when it builds an sdist
/// for another platform) would not load there.
///
/// # Errors
/// Names the first file built for another machine, its machine and the host architecture, and
/// says what a cross build needs instead.
pub fn check_host_machine(
    files: &[ElfFile],
    cross: &crate::debhelper::CrossArchitecture,
    staging_root: &std::path::Path,
) -> anyhow::Result<()> {
    let Some(host) = machine_of_architecture(&cross.host_arch) else {
        return Ok(());
    };
    if let Some(file) = files.iter().find(|f| f.machine != host) {
        let owner = distribution_of(&file.path, staging_root)
            .map(|d| format!(" (of {d})"))
            .unwrap_or_default();
        anyhow::bail!(
            "{}{owner} is built for ELF machine {}, not for {} (machine {host}): a cross build \
             installs wheels built for the host and compiles nothing; put a wheel of it for {} in \
             the wheelhouse (dh_rustvenv --download-for=<python>@{}) or build on an {} machine",
            file.path
                .strip_prefix(staging_root)
                .unwrap_or(&file.path)
                .display(),
            file.machine,
            cross.host_arch,
            cross.host_arch,
            cross.host_arch,
            cross.host_arch
        );
    }
    Ok(())
}

/// The distribution whose RECORD lists `path` (`fastsum 1.0`, from its `.dist-info` directory
/// name, PEP 427), among those of the venv's `lib/python3.X/site-packages`; None when none does.
fn distribution_of(path: &std::path::Path, staging_root: &std::path::Path) -> Option<String> {
    let lib = std::fs::read_dir(staging_root.join("lib")).ok()?;
    for python in lib.filter_map(|e| e.ok()) {
        let site = python.path().join("site-packages");
        let Ok(entries) = std::fs::read_dir(&site) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".dist-info") else {
                continue;
            };
            let record = entry.path().join("RECORD");
            if crate::record::lists(&record, &site, path).unwrap_or(false) {
                return Some(stem.replacen('-', " ", 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_elf_file_of_another_machine_stops_a_cross_build_naming_its_distribution() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("fastsum-1.0.dist-info")).unwrap();
        std::fs::write(
            site.join("fastsum-1.0.dist-info/RECORD"),
            "fastsum/_speedups.so,,\n",
        )
        .unwrap();
        let file = |machine: u16| ElfFile {
            path: site.join("fastsum/_speedups.so"),
            kind: ElfKind::SharedObject,
            dynamic: true,
            machine,
            needed: Vec::new(),
            search_paths: Vec::new(),
            foreign_search_paths: Vec::new(),
            soname: None,
            build_id: None,
            has_debug_info: false,
            has_symtab: false,
            patchelf_layout: false,
        };
        let cross = crate::debhelper::CrossArchitecture {
            build_arch: "amd64".into(),
            host_arch: "arm64".into(),
            host_gnu_type: "aarch64-linux-gnu".into(),
            host_multiarch: "aarch64-linux-gnu".into(),
        };
        assert!(check_host_machine(&[file(183)], &cross, dir.path()).is_ok());
        let err = check_host_machine(&[file(62)], &cross, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "lib/python3.11/site-packages/fastsum/_speedups.so (of fastsum 1.0) is built for \
                 ELF machine 62, not for arm64 (machine 183)"
            ),
            "{err}"
        );
    }

    #[test]
    fn skip_reasons_read_as_sentences() {
        assert_eq!(SkipReason::NoStrip.to_string(), "DEB_BUILD_OPTIONS=nostrip");
        assert!(
            SkipReason::WouldBreakLoading("x".into())
                .to_string()
                .contains("kept as installed")
        );
    }
}
