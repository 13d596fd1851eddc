//! Reading the venv's ELF files: which files are ELF (by header, not name), and what each needs
//! (NEEDED, RPATH/RUNPATH, SONAME, machine, build-id, debug information, load-segment layout).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use goblin::elf::{Elf, header, program_header};

use super::{ElfFile, ElfKind, ElfReport};
use crate::inventory::Inventory;

/// The page size the loader checks segment alignment against (x86-64, arm64 with 4 KiB pages).
const PAGE_SIZE: u64 = 4096;

/// Parses every file the inventory classified as ELF (by its magic number, not its name), in walk
/// order; no other file is read.
///
/// # Errors
/// When a file cannot be read. A file that starts with the ELF magic but does not parse is not an
/// error: it is listed in [`ElfReport::unreadable`].
pub fn scan(inventory: &Inventory) -> Result<ElfReport> {
    let mut report = ElfReport::default();
    for entry in inventory.elf_files() {
        let path = entry.path.as_path();
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        match parse(&bytes, entry.is_executable()) {
            Ok(file) => report.files.push(ElfFile {
                path: path.to_path_buf(),
                ..file
            }),
            Err(e) => report.unreadable.push((path.to_path_buf(), e)),
        }
    }
    Ok(report)
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
}
