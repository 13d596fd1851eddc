//! The venv's compiled code: which files are ELF, which are safe to strip, and what they need.
//!
//! Takes the relocated venv at `staging_root`. [`scan`] finds every ELF file by its header (not its
//! name) and reads, with goblin, its type, NEEDED, RPATH/RUNPATH, SONAME, build-id, whether it carries
//! debug information and whether its load segments show the layout patchelf leaves behind. [`strip`]
//! strips what dh_strip would strip, the way it would, into a copy; it keeps a result only when it
//! re-parses and its load segments still satisfy the loader (offsets congruent to addresses), so a
//! library that stripping would damage is kept as pip installed it and reported. Debug information goes
//! to the automatic -dbgsym package as dh_strip puts it there. The next stages can rely on the
//! [`ElfFile`] list to resolve shared-library dependencies; the ELF tools later in the dh sequence are
//! told to leave the venv alone.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use goblin::elf::{Elf, header, program_header};

use crate::command::Command;
use crate::debhelper::Reporter;

/// The page size the loader checks segment alignment against (x86-64, arm64 with 4 KiB pages).
const PAGE_SIZE: u64 = 4096;

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

/// Finds and parses every ELF file under `staging_root`, in walk order.
///
/// # Errors
/// When a file cannot be read. A file that starts with the ELF magic but does not parse is not an
/// error: it is listed in [`ElfReport::unreadable`].
pub fn scan(staging_root: &Path) -> Result<ElfReport> {
    let mut report = ElfReport::default();
    for entry in crate::tree::walk(staging_root) {
        let entry = entry.with_context(|| format!("reading {}", staging_root.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        // Only ELF files are read whole; of the others, the four bytes of the magic number.
        let mut magic = [0u8; 4];
        let opened = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        if std::io::Read::read_exact(&mut &opened, &mut magic).is_err()
            || !crate::tree::is_elf(&magic)
        {
            continue;
        }
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let executable = entry.metadata().map(|m| is_executable(&m)).unwrap_or(false);
        match parse(&bytes, executable) {
            Ok(file) => report.files.push(ElfFile {
                path: path.to_path_buf(),
                ..file
            }),
            Err(e) => report.unreadable.push((path.to_path_buf(), e)),
        }
    }
    Ok(report)
}

fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    crate::tree::is_executable(metadata.permissions().mode())
}

/// The RPATH and RUNPATH entries of `elf` that are not relative to `$ORIGIN`, as lintian reads them
/// (`Lintian::Check::Binaries::Rpath`): cleaned, once each.
fn foreign_search_paths(elf: &Elf) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (section, paths) in [("RPATH", &elf.rpaths), ("RUNPATH", &elf.runpaths)] {
        for entry in paths.iter().flat_map(|p| p.split(':')) {
            if entry.is_empty() || entry.starts_with("$ORIGIN") || entry.starts_with("${ORIGIN}") {
                continue;
            }
            let mut clean = String::new();
            for part in entry.split('/').filter(|p| !p.is_empty() && *p != ".") {
                clean.push('/');
                clean.push_str(part);
            }
            if !entry.starts_with('/') {
                clean.remove(0);
            } else if clean.is_empty() {
                clean.push('/');
            }
            if !out.iter().any(|(s, p)| *s == section && *p == clean) {
                out.push((section, clean));
            }
        }
    }
    out
}

/// Parses an ELF file's bytes; `executable` says whether the file has an execute bit. The `path` of
/// the result is empty.
///
/// # Errors
/// goblin's description of what is wrong with the bytes (truncated, corrupted, not ELF).
pub fn parse(bytes: &[u8], executable: bool) -> std::result::Result<ElfFile, String> {
    let elf = Elf::parse(bytes).map_err(|e| e.to_string())?;
    let kind = match elf.header.e_type {
        header::ET_EXEC => ElfKind::Executable,
        header::ET_DYN if executable => ElfKind::Executable,
        header::ET_DYN => ElfKind::SharedObject,
        _ => ElfKind::Other,
    };
    let has_debug_info = elf.section_headers.iter().any(|sh| {
        elf.shdr_strtab
            .get_at(sh.sh_name)
            .is_some_and(|name| name.starts_with(".debug_") || name.starts_with(".zdebug_"))
    });
    let has_symtab = elf
        .section_headers
        .iter()
        .any(|sh| sh.sh_type == goblin::elf::section_header::SHT_SYMTAB);
    let build_id = elf.iter_note_headers(bytes).and_then(|notes| {
        notes
            .filter_map(|n| n.ok())
            .find(|n| n.n_type == goblin::elf::note::NT_GNU_BUILD_ID && n.name == "GNU")
            .map(|n| n.desc.iter().map(|b| format!("{b:02x}")).collect())
    });
    let loads = load_segments(&elf);
    let patchelf_layout = loads.len() > 4 || loads.windows(2).any(|w| w[1].0 < w[0].0);
    Ok(ElfFile {
        path: PathBuf::new(),
        kind,
        dynamic: elf.header.e_type == header::ET_DYN,
        machine: elf.header.e_machine,
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        search_paths: elf
            .rpaths
            .iter()
            .chain(elf.runpaths.iter())
            .flat_map(|p| p.split(':'))
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        foreign_search_paths: foreign_search_paths(&elf),
        soname: elf.soname.map(str::to_owned),
        build_id,
        has_debug_info,
        has_symtab,
        patchelf_layout,
    })
}

/// (p_offset, p_vaddr, p_align) of every `PT_LOAD`.
fn load_segments(elf: &Elf) -> Vec<(u64, u64, u64)> {
    elf.program_headers
        .iter()
        .filter(|ph| ph.p_type == program_header::PT_LOAD)
        .map(|ph| (ph.p_offset, ph.p_vaddr, ph.p_align))
        .collect()
}

/// The `e_machine` of the ELF file at `path`, read from its header; None when it is not ELF or cannot
/// be read.
pub fn machine_of(path: &Path) -> Option<u16> {
    use std::io::Read;
    let mut bytes = [0u8; 64];
    let mut file = fs::File::open(path).ok()?;
    let read = file.read(&mut bytes).ok()?;
    Elf::parse_header(&bytes[..read]).ok().map(|h| h.e_machine)
}

/// Checks the rule the dynamic loader enforces on load segments: each segment's file offset must be
/// congruent to its address modulo its alignment and modulo the page size. Returns the first segment
/// that breaks it, described.
///
/// # References
/// The System V ABI, "Program Header" (`p_vaddr` and `p_offset` congruent modulo `p_align`); glibc's
/// "ELF load command address/offset not page-aligned" error.
pub fn check_load_segments(bytes: &[u8]) -> std::result::Result<(), String> {
    let elf = Elf::parse(bytes).map_err(|e| format!("the stripped file does not parse: {e}"))?;
    for (index, (offset, vaddr, align)) in load_segments(&elf).into_iter().enumerate() {
        for modulus in [align.max(1), PAGE_SIZE] {
            if modulus > 1 && offset % modulus != vaddr % modulus {
                return Err(format!(
                    "LOAD segment {index}: offset {offset:#x} and address {vaddr:#x} differ modulo {modulus:#x}"
                ));
            }
        }
    }
    Ok(())
}

/// Where debug information of stripped files goes, as dh_strip does it for automatic -dbgsym
/// packages: `debian/.debhelper/<package>/dbgsym-root`, with the build-ids listed in
/// `debian/.debhelper/<package>/dbgsym-build-ids` for dh_gencontrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugSymbols {
    /// `debian/.debhelper/<package>`.
    pub package_dir: PathBuf,
    /// The binary package, for the `usr/share/doc/<package>-dbgsym` link dh_strip makes.
    pub package: String,
}

/// Strips the venv's shared objects and executables, as dh_strip would (`strip --remove-section=.comment
/// --remove-section=.note`, plus `--strip-unneeded` for shared objects), into a copy that replaces the
/// file only when [`check_load_segments`] accepts it. The copy is renamed into place, so a hardlink into
/// an installer's cache is never written through. With `debug_symbols`, debug information is first
/// extracted with `objcopy --only-keep-debug --compress-debug-sections` under the file's build-id and
/// linked back with `--add-gnu-debuglink`; [`record_build_ids`] registers them once the build succeeds.
///
/// # Errors
/// When strip or objcopy cannot be started, or a file cannot be written. A strip that fails or whose
/// result would not load is not an error: the file is kept and listed in `report.skipped`.
///
/// # References
/// dh_strip(1) and debhelper 13.11's `dh_strip` (`make_debug`, `attach_debug`, `write_buildid_file`);
/// Debian Policy 10.1 (binaries are stripped unless `nostrip`).
pub fn strip(
    report: &mut ElfReport,
    no_strip: bool,
    debug_symbols: Option<&DebugSymbols>,
    reporter: &Reporter,
) -> Result<()> {
    // Each file is stripped into a copy by its own strip run, both cores at once. Files with the same
    // build-id share one debug file, so they are taken in turn, in one group. The results are then
    // taken in the files' order, so that the report does not depend on which run ended first.
    use rayon::prelude::*;
    let mut groups: Vec<Vec<(usize, &ElfFile)>> = Vec::new();
    for (index, file) in report.files.iter().enumerate() {
        let same_build_id = file.build_id.as_ref().and_then(|id| {
            groups
                .iter_mut()
                .find(|g| g[0].1.build_id.as_ref() == Some(id))
        });
        match same_build_id {
            Some(group) => group.push((index, file)),
            None => groups.push(vec![(index, file)]),
        }
    }
    let strip_file = |file: &ElfFile| {
        let options: &[&str] = match file.kind {
            _ if no_strip => return None,
            ElfKind::Other => return None,
            ElfKind::SharedObject => &[
                "--remove-section=.comment",
                "--remove-section=.note",
                "--strip-unneeded",
            ],
            ElfKind::Executable => &["--remove-section=.comment", "--remove-section=.note"],
        };
        let mut copy = file.path.clone().into_os_string();
        copy.push(".dh-rustvenv-strip");
        let copy = PathBuf::from(copy);
        let outcome = strip_one(file, &copy, options, debug_symbols, reporter);
        Some((file.clone(), copy, outcome))
    };
    let mut outcomes: Vec<(usize, StripResult)> = groups
        .par_iter()
        .flat_map_iter(|group| {
            group
                .iter()
                .filter_map(|(index, file)| strip_file(file).map(|outcome| (*index, outcome)))
                .collect::<Vec<_>>()
        })
        .collect();
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes = outcomes.into_iter().map(|(_, outcome)| outcome);
    for file in &report.files {
        if no_strip {
            report
                .skipped
                .push((file.path.clone(), SkipReason::NoStrip));
        } else if file.kind == ElfKind::Other {
            report
                .skipped
                .push((file.path.clone(), SkipReason::NotStrippable));
        }
    }
    let mut failure = None;
    for (file, copy, outcome) in outcomes {
        match outcome {
            Ok(StripOutcome::Stripped(debug)) if failure.is_none() => {
                fs::rename(&copy, &file.path).with_context(|| {
                    format!("renaming {} to {}", copy.display(), file.path.display())
                })?;
                report.stripped.push(file.path.clone());
                if let Some((build_id, written)) = debug {
                    report.build_ids.push(build_id);
                    report.debug_files.extend(written);
                }
            }
            Ok(StripOutcome::Stripped(debug)) => {
                let _ = fs::remove_file(&copy);
                if let Some((_, Some(written))) = debug {
                    crate::remove_debug_files(std::slice::from_ref(&written));
                }
            }
            Ok(StripOutcome::Kept(reason)) => {
                let _ = fs::remove_file(&copy);
                report.skipped.push((file.path.clone(), reason));
            }
            Err(e) => {
                let _ = fs::remove_file(&copy);
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One strip run: the file, its stripped copy, and how it went.
type StripResult = (ElfFile, PathBuf, Result<StripOutcome>);

enum StripOutcome {
    /// The copy is good; the build-id of its debug file, and the file when this run wrote it.
    Stripped(Option<(String, Option<PathBuf>)>),
    Kept(SkipReason),
}

fn strip_one(
    file: &ElfFile,
    copy: &Path,
    options: &[&str],
    debug_symbols: Option<&DebugSymbols>,
    reporter: &Reporter,
) -> Result<StripOutcome> {
    let strip = Command::new("strip")
        .args(options)
        .arg("-o")
        .arg(copy)
        .arg(&file.path);
    if let Err(e) = reporter.doit(&strip) {
        if matches!(
            e.downcast_ref(),
            Some(crate::command::CommandError::NotStarted { .. })
        ) {
            return Err(e);
        }
        return Ok(StripOutcome::Kept(SkipReason::StripFailed(format!(
            "{e:#}"
        ))));
    }
    let verify = || -> Result<std::result::Result<(), String>> {
        let stripped = fs::read(copy).with_context(|| format!("reading {}", copy.display()))?;
        Ok(check_load_segments(&stripped))
    };
    if let Err(why) = verify()? {
        return Ok(StripOutcome::Kept(SkipReason::WouldBreakLoading(why)));
    }
    let (Some(debug), Some(build_id), true) = (debug_symbols, &file.build_id, file.has_debug_info)
    else {
        return Ok(StripOutcome::Stripped(None));
    };
    let (prefix, rest) = build_id.split_at(2.min(build_id.len()));
    let debug_file = debug
        .package_dir
        .join("dbgsym-root/usr/lib/debug/.build-id")
        .join(prefix)
        .join(format!("{rest}.debug"));
    let debug_dir = debug_file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(debug_dir).with_context(|| format!("creating {}", debug_dir.display()))?;
    let created = !debug_file.exists();
    if created {
        reporter.doit(
            &Command::new("objcopy")
                .args(["--only-keep-debug", "--compress-debug-sections"])
                .arg(&file.path)
                .arg(&debug_file),
        )?;
    }
    reporter.doit(
        &Command::new("objcopy")
            .arg("--add-gnu-debuglink")
            .arg(&debug_file)
            .arg(copy),
    )?;
    if let Err(why) = verify()? {
        if created {
            let _ = fs::remove_file(&debug_file);
        }
        return Ok(StripOutcome::Kept(SkipReason::WouldBreakLoading(why)));
    }
    Ok(StripOutcome::Stripped(Some((
        build_id.clone(),
        created.then_some(debug_file),
    ))))
}

/// Appends build-ids to `dbgsym-build-ids` (space-separated, sorted, as dh_strip writes them) and makes
/// the `usr/share/doc/<package>-dbgsym` link dh_strip makes; called once the build of the venv has
/// succeeded, so a failed build adds nothing to the -dbgsym package.
///
/// # Errors
/// When the file or the link cannot be written; the message names it.
pub fn record_build_ids(debug: &DebugSymbols, build_ids: &[String]) -> Result<()> {
    if build_ids.is_empty() {
        return Ok(());
    }
    use std::io::Write;
    let mut sorted = build_ids.to_vec();
    sorted.sort();
    sorted.dedup();
    let path = debug.package_dir.join("dbgsym-build-ids");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    write!(file, "{} ", sorted.join(" ")).with_context(|| format!("writing {}", path.display()))?;
    let doc = debug.package_dir.join("dbgsym-root/usr/share/doc");
    let link = doc.join(format!("{}-dbgsym", debug.package));
    if fs::symlink_metadata(&link).is_err() {
        fs::create_dir_all(&doc).with_context(|| format!("creating {}", doc.display()))?;
        std::os::unix::fs::symlink(&debug.package, &link)
            .with_context(|| format!("creating the symlink {}", link.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test binary itself is an ELF executable with a build-id.
    fn own_bytes() -> Vec<u8> {
        fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn parses_its_own_executable() {
        let file = parse(&own_bytes(), true).unwrap();
        assert_eq!(file.kind, ElfKind::Executable);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(file.machine, header::EM_X86_64);
        assert!(
            file.needed.iter().any(|n| n.starts_with("libc.so")),
            "{:?}",
            file.needed
        );
        assert!(file.build_id.is_some());
        assert!(check_load_segments(&own_bytes()).is_ok());
        assert_eq!(
            machine_of(&std::env::current_exe().unwrap()),
            Some(file.machine)
        );
        assert_eq!(machine_of(Path::new("/nonexistent")), None);
    }

    #[test]
    fn truncated_and_garbage_elf_files_are_errors_not_panics() {
        let bytes = own_bytes();
        assert!(parse(&bytes, false).is_ok());
        // Cut anywhere before its end (its section headers come last), the file is an error.
        for len in [0, 4, 16, 64, 200, 4096, bytes.len() / 2, bytes.len() - 1] {
            assert!(parse(&bytes[..len], false).is_err(), "length {len}");
        }
        let mut garbage = b"\x7fELF\x02\x01\x01".to_vec();
        garbage.extend(std::iter::repeat_n(0xff, 100));
        assert!(parse(&garbage, false).is_err());
        assert!(check_load_segments(&garbage).is_err());
    }

    #[test]
    fn misaligned_load_segments_are_found() {
        let mut bytes = own_bytes();
        let elf = Elf::parse(&bytes).unwrap();
        let phoff = elf.header.e_phoff as usize;
        let phentsize = elf.header.e_phentsize as usize;
        let index = elf
            .program_headers
            .iter()
            .position(|ph| ph.p_type == program_header::PT_LOAD && ph.p_offset > 0)
            .unwrap();
        drop(elf);
        // Shift one segment's file offset (p_offset is at byte 8 of an Elf64_Phdr) off its address.
        let at = phoff + index * phentsize + 8;
        let offset = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        bytes[at..at + 8].copy_from_slice(&(offset + 0x51c).to_le_bytes());
        let why = check_load_segments(&bytes).unwrap_err();
        assert!(why.contains("differ modulo 0x"), "{why}");
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
