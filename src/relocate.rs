//! Makes a venv built at the staging path work at its final path.
//!
//! Takes the venv that install built at `staging_root` and rewrites, in place, every reference to
//! `staging_root` into `final_root`: console-script shebangs (pip's `/bin/sh` + `'''exec'` form for
//! long paths becomes a plain shebang when the final path allows), every activate script, `pyvenv.cfg`,
//! `.pth` files and any other text file; absolute symlinks into the venv become relative. It removes the
//! bytecode pip or the build left (`__pycache__`; the package byte-compiles at installation instead),
//! removes `direct_url.json` files that record a local build path (PEP 610). [`update_records`] later
//! brings every dist-info `RECORD` (PEP 376, PEP 627) up to date with the files as shipped, once the ELF
//! stage has stripped what it strips. It writes only under `staging_root`; ELF and other binary files
//! are left for the next stages.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use sha2::Digest as _;

use crate::pathmatch::PathMatcher;
use crate::tree::{replace as replace_file, walk};

/// Where a venv was built, and where it will live.
#[derive(Debug, Clone)]
pub struct Relocation {
    /// The spellings of the staging path found in files: the absolute path dh_rustvenv gave the tools
    /// and, when it differs, its canonical form (symlinks resolved); found only at path boundaries.
    pub staging: PathMatcher,
    /// The final path, e.g. `/opt/venvs/demo`.
    pub final_root: Vec<u8>,
}

impl Relocation {
    /// The relocation from any of `staging_paths` to `final_root`.
    ///
    /// # Errors
    /// When the paths cannot be made into a pattern ([`PathMatcher::new`]).
    pub fn new(staging_paths: Vec<Vec<u8>>, final_root: Vec<u8>) -> Result<Relocation> {
        Ok(Relocation {
            staging: PathMatcher::new(staging_paths)?,
            final_root,
        })
    }
}

/// What relocation changed, in walk order (sorted by file name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelocationReport {
    /// Text files whose content named the staging path and was rewritten.
    pub rewritten: Vec<PathBuf>,
    /// Symlinks that pointed into the staging path and are now relative.
    pub relinked: Vec<PathBuf>,
    /// Bytecode files (`*.pyc`) removed.
    pub bytecode_removed: usize,
    /// `direct_url.json` files removed because they named a local build path.
    pub direct_urls_removed: Vec<PathBuf>,
    /// The `.gitignore` at the venv's top that only tells git to ignore the venv, removed: in a package
    /// it means nothing, and lintian calls it a VCS control file (package-contains-vcs-control-file).
    pub scm_ignore_removed: Vec<PathBuf>,
    /// Executable files that are neither ELF nor script, whose execute bits were removed.
    pub made_not_executable: Vec<PathBuf>,
    /// The regular files File::StripNondeterminism may have a normalizer for ([`archive_candidate`]),
    /// for [`strip_nondeterminism`].
    pub archive_candidates: Vec<PathBuf>,
    /// How many regular files were selected (and read).
    pub regular_files: usize,
    /// The audit of the entries as relocation left them ([`crate::audit::leak_in`]): the selected
    /// files and symlinks that still name a forbidden path, in walk order.
    pub leaks: Vec<crate::audit::Leak>,
    /// The selected files and symlinks that name a temporary build path of another machine
    /// ([`crate::audit::upstream_build_paths`]), in walk order: upstream's content, reported and never
    /// rewritten.
    pub upstream: Vec<crate::audit::Leak>,
}

/// The longest shebang line (with `#!` and the newline) the kernel reads whole everywhere; pip and
/// distlib use the same limit before they fall back to the `/bin/sh` form.
pub const MAX_SHEBANG: usize = 127;

/// Relocates the entries of the venv at `staging_root` that `selected` accepts (all of them when
/// dh_rustvenv builds the venv; what rules added or changed since, in the late stage). Selected
/// bytecode files are removed, and then every `__pycache__` directory left empty. Each entry is
/// audited as it is left: for this build's paths (`forbidden`), and for the build paths of the
/// machines upstream built on (`upstream`), which are only reported.
///
/// # Errors
/// When a file or directory of the venv cannot be read or written; the message names it.
pub fn relocate(
    staging_root: &Path,
    relocation: &Relocation,
    selected: &(dyn Fn(&Path) -> bool + Sync),
    (forbidden, upstream): (&PathMatcher, &PathMatcher),
) -> Result<RelocationReport> {
    use rayon::prelude::*;
    let mut entries = Vec::new();
    for entry in walk(staging_root) {
        let entry = entry.with_context(|| format!("reading {}", staging_root.display()))?;
        if !entry.file_type().is_dir() && selected(entry.path()) {
            entries.push(entry);
        }
    }
    // Each entry is read once and rewritten on its own, both cores at once; the outcomes are taken
    // in walk order.
    let outcomes: Vec<Result<Outcome>> = entries
        .par_iter()
        .map(|entry| relocate_entry(entry, staging_root, relocation, (forbidden, upstream)))
        .collect();
    let mut report = RelocationReport::default();
    for (entry, outcome) in entries.iter().zip(outcomes) {
        let path = entry.path().to_path_buf();
        let outcome = outcome?;
        if outcome.read {
            report.regular_files += 1;
        }
        if outcome.archive_candidate {
            report.archive_candidates.push(path.clone());
        }
        match outcome.change {
            Change::None => {}
            Change::BytecodeRemoved => report.bytecode_removed += 1,
            Change::Relinked => report.relinked.push(path.clone()),
            Change::DirectUrlRemoved => report.direct_urls_removed.push(path.clone()),
            Change::ScmIgnoreRemoved => report.scm_ignore_removed.push(path.clone()),
            Change::Rewritten => report.rewritten.push(path.clone()),
        }
        if let Some(leak) = outcome.leak {
            report.leaks.push(crate::audit::Leak {
                file: path.clone(),
                ..leak
            });
        }
        if let Some(found) = outcome.upstream {
            report.upstream.push(crate::audit::Leak {
                file: path.clone(),
                ..found
            });
        }
        if outcome.made_not_executable {
            report.made_not_executable.push(path);
        }
    }
    remove_empty_bytecode_dirs(staging_root)?;
    Ok(report)
}

/// What relocation did to one entry.
struct Outcome {
    change: Change,
    /// Whether the entry is a regular file that was read.
    read: bool,
    archive_candidate: bool,
    made_not_executable: bool,
    /// What the audit finds in the entry as left.
    leak: Option<crate::audit::Leak>,
    /// A build path of upstream's machines in the entry as left.
    upstream: Option<crate::audit::Leak>,
}

enum Change {
    None,
    BytecodeRemoved,
    Relinked,
    DirectUrlRemoved,
    ScmIgnoreRemoved,
    Rewritten,
}

/// Relocates one entry of the venv (not a directory): see [`relocate`].
fn relocate_entry(
    entry: &walkdir::DirEntry,
    staging_root: &Path,
    relocation: &Relocation,
    (forbidden, upstream): (&PathMatcher, &PathMatcher),
) -> Result<Outcome> {
    let path = entry.path();
    let file_type = entry.file_type();
    let mut outcome = Outcome {
        change: Change::None,
        read: false,
        archive_candidate: false,
        made_not_executable: false,
        leak: None,
        upstream: None,
    };
    let audit = |content: &[u8]| crate::audit::leak_in(content, forbidden, &relocation.final_root);
    let foreign = |content: &[u8]| crate::audit::leak_in(content, upstream, &relocation.final_root);
    if file_type.is_file() && path.extension().is_some_and(|e| e == "pyc") {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        outcome.change = Change::BytecodeRemoved;
    } else if file_type.is_symlink() {
        if relink(path, staging_root, relocation)? {
            outcome.change = Change::Relinked;
        }
        let target = fs::read_link(path)
            .with_context(|| format!("reading the symlink {}", path.display()))?;
        outcome.leak = audit(target.as_os_str().as_bytes());
        outcome.upstream = foreign(target.as_os_str().as_bytes());
    } else if file_type.is_file() {
        if path.parent() == Some(staging_root)
            && path.file_name().is_some_and(|n| n == ".gitignore")
            && is_venv_scm_ignore(path)?
        {
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            outcome.change = Change::ScmIgnoreRemoved;
            return Ok(outcome);
        }
        if path.file_name().is_some_and(|n| n == "direct_url.json") && is_local_direct_url(path)? {
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            outcome.change = Change::DirectUrlRemoved;
            return Ok(outcome);
        }
        let content = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        outcome.read = true;
        outcome.archive_candidate = archive_candidate(path, &content);
        let mut new = if is_text(&content) {
            rewrite_text(&content, relocation)
        } else {
            None
        };
        let mode = entry
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        if crate::tree::is_executable(mode) && !crate::tree::is_elf(&content) {
            let current = new.as_deref().unwrap_or(&content);
            if current.starts_with(b"#!") {
                if let Some(fixed) = venv_shebang(current, &relocation.final_root) {
                    new = Some(fixed);
                }
            } else {
                // Neither ELF nor script: nothing can run it (lintian's executable-not-elf-or-script).
                fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o111))
                    .with_context(|| format!("changing the mode of {}", path.display()))?;
                outcome.made_not_executable = true;
            }
        }
        outcome.leak = audit(new.as_deref().unwrap_or(&content));
        outcome.upstream = foreign(new.as_deref().unwrap_or(&content));
        if let Some(new) = new {
            replace_file(path, &new)?;
            outcome.change = Change::Rewritten;
        }
    }
    Ok(outcome)
}

/// Brings the `RECORD` of every installed distribution (a `*.dist-info` directly in a `site-packages`
/// directory) up to date with the files as shipped: rows of files that no longer exist are dropped,
/// and rows of the `changed` files (rewritten by relocation, stripped by the ELF stage) get their new
/// hash and size. A RECORD deeper down belongs to a copy vendored inside a package (setuptools'
/// `_vendor/wheel-*.dist-info`): it is that package's data and stays as installed. Returns the RECORD
/// files that changed.
///
/// # Errors
/// When a RECORD cannot be read, parsed as CSV or written; the message names it.
///
/// # References
/// PEP 376 and PEP 627; the binary distribution format specification.
pub fn update_records(staging_root: &Path, changed: &BTreeSet<&Path>) -> Result<Vec<PathBuf>> {
    let mut updated = Vec::new();
    for entry in walk(staging_root) {
        let entry = entry.with_context(|| format!("reading {}", staging_root.display()))?;
        let path = entry.path();
        let dist_info = path.parent();
        let is_record = path.file_name().is_some_and(|n| n == "RECORD")
            && dist_info
                .and_then(Path::file_name)
                .is_some_and(|d| d.as_encoded_bytes().ends_with(b".dist-info"))
            && dist_info
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|d| d == "site-packages");
        if is_record && update_record(path, changed)? {
            updated.push(path.to_path_buf());
        }
    }
    Ok(updated)
}

/// Whether File::StripNondeterminism may have a normalizer for the file at `path` with `content`: the
/// names its `get_normalizer_for_file` accepts before it asks file(1) what the file is (`.a`, `.cpio`,
/// `.mo`/`.gmo`, `.gz`/`.dz`, `.jar` and its kin, `.jmod`, `.html` for javadoc, `.bflt`, `.uimage`,
/// `.png`, `.zip`/`.whl` and their kin), and, for its last rule (Python zip applications, a script
/// with a zip archive appended), a file that starts with `#!` and is not text. Every other file is
/// left out of the Perl run, which would otherwise start file(1) once for each of them.
///
/// # References
/// File::StripNondeterminism 1.13.1, `get_normalizer_for_file`.
pub fn archive_candidate(path: &Path, content: &[u8]) -> bool {
    let name = path.as_os_str().as_bytes();
    let extension = match name.iter().rposition(|&b| b == b'.' || b == b'/') {
        Some(dot) if name[dot] == b'.' => &name[dot + 1..],
        _ => &[][..],
    };
    const EXTENSIONS: [&[u8]; 25] = [
        b"a", b"cpio", b"mo", b"gmo", b"gz", b"dz", b"jar", b"war", b"hpi", b"apk", b"sym",
        b"jmod", b"html", b"bflt", b"png", b"zip", b"pk3", b"epub", b"whl", b"xpi", b"htb",
        b"zhfst", b"par", b"codadef", b"uimage",
    ];
    let named = EXTENSIONS.iter().any(|e| {
        if *e == b"uimage" {
            extension.eq_ignore_ascii_case(e)
        } else {
            extension == *e
        }
    });
    named || (content.starts_with(b"#!") && !is_text(content))
}

/// What `dh_strip_nondeterminism` would do to the venv, done before `RECORD` is updated: every file
/// that File::StripNondeterminism has a normalizer for (gzip, zip and jar files, ar archives, gettext
/// catalogues, among others) is normalized, with `SOURCE_DATE_EPOCH` as the canonical time. The add-on
/// keeps dh_strip_nondeterminism out of the venv, which would otherwise change those files after
/// RECORD recorded them. Only `files` are considered; names are handed to Perl separated by NUL, so a
/// name holding a newline is still one name. Returns the files handed to a normalizer (changed or not).
///
/// # Errors
/// When perl or the module cannot be run, or a normalizer fails on a file (the message names it).
///
/// # References
/// dh_strip_nondeterminism(1) and debhelper 13.11's `dh_strip_nondeterminism`, which this mirrors
/// (except for binNMUs, where it takes the date of the last non-binNMU changelog entry).
pub fn strip_nondeterminism(
    files: &[PathBuf],
    reporter: &crate::debhelper::Reporter,
) -> Result<Vec<PathBuf>> {
    const SCRIPT: &str = "use strict; use warnings; use File::StripNondeterminism;
File::StripNondeterminism::init();
$File::StripNondeterminism::canonical_time = $ENV{SOURCE_DATE_EPOCH} if length($ENV{SOURCE_DATE_EPOCH} // '');
local $/ = \"\\0\";
while (my $path = <STDIN>) {
    chomp $path;
    next unless -f $path && ! -l $path;
    my $normalize = File::StripNondeterminism::get_normalizer_for_file($path) or next;
    eval { $normalize->($path); 1 } or die \"$path: $@\";
    print \"$path\\0\";
}";
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut list = Vec::new();
    for file in files {
        list.extend_from_slice(file.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let command = crate::command::Command::new("perl")
        .args(["-e", SCRIPT])
        .stdin(list);
    reporter.verbose_print("# normalizing archives in the venv as dh_strip_nondeterminism does");
    let output = command
        .query_bytes()
        .context("normalizing the venv's archives (File::StripNondeterminism)")?;
    Ok(output
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(std::ffi::OsStr::from_bytes(name)))
        .collect())
}

/// Removes the `__pycache__` directories under `root` that hold nothing (any more).
fn remove_empty_bytecode_dirs(root: &Path) -> Result<()> {
    let dirs: Vec<PathBuf> = walk(root)
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir() && e.file_name() == "__pycache__")
        .map(|e| e.into_path())
        .collect();
    for dir in dirs.iter().rev() {
        let empty = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if empty {
            fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Whether a file is text that may be rewritten: no NUL byte (ELF files, archives and pickles have
/// them; changing a path's length inside those would corrupt them).
fn is_text(content: &[u8]) -> bool {
    !content.contains(&0)
}

/// Whether the file at `path` is the `.gitignore` a venv tool writes so that git ignores the whole
/// venv: `*` as its only pattern, under comments (`python -m venv` of Python 3.13 and later writes
/// `# Created by venv; see https://docs.python.org/3/library/venv.html` above it). A file with any
/// other pattern is someone's own and stays.
///
/// # Errors
/// When the file cannot be read.
fn is_venv_scm_ignore(path: &Path) -> Result<bool> {
    let content = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&content);
    let patterns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    Ok(patterns == ["*"])
}

/// Whether `direct_url.json` (PEP 610) records a `file:` URL: the build-time location of a local
/// directory, wheel or sdist, which means nothing on the installed system and names the build tree.
fn is_local_direct_url(path: &Path) -> Result<bool> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => return Ok(false),
    };
    Ok(value["url"]
        .as_str()
        .is_some_and(|url| url.starts_with("file:")))
}

/// Rewrites a text file's content for the final path; None when it does not name the staging path.
///
/// Every occurrence of a staging path at path boundaries ([`PathMatcher`]) is replaced by the final
/// path. A
/// script in pip's long-path form (`#!/bin/sh`, then `'''exec' <python> "$0" "$@"`, then `' '''`) whose
/// interpreter ends up inside the final path gets a plain `#!<python>` line instead, when that line fits
/// in [`MAX_SHEBANG`] bytes and the path has no space: shells and lintian then read it as the Python
/// script it is.
pub fn rewrite_text(content: &[u8], relocation: &Relocation) -> Option<Vec<u8>> {
    let text = relocation
        .staging
        .replace_all(content, &relocation.final_root)?;
    Some(plain_shebang(&text, &relocation.final_root).unwrap_or(text))
}

/// Turns pip's `/bin/sh` + `'''exec'` script header into `#!<python>` when `<python>` lies in
/// `final_root`, has no space, and the line fits; None when the text is not in that form.
pub fn plain_shebang(text: &[u8], final_root: &[u8]) -> Option<Vec<u8>> {
    let rest = text.strip_prefix(b"#!/bin/sh\n'''exec' ")?;
    let line_end = rest.iter().position(|&b| b == b'\n')?;
    let exec_line = &rest[..line_end];
    let body = rest[line_end + 1..].strip_prefix(b"' '''\n")?;
    let args = b" \"$0\" \"$@\"";
    let python = exec_line.strip_suffix(args)?;
    let python = python
        .strip_prefix(b"\"")
        .and_then(|p| p.strip_suffix(b"\""))
        .unwrap_or(python);
    let inside = python.starts_with(final_root) && python.get(final_root.len()) == Some(&b'/');
    let line_len = 2 + python.len() + 1;
    if !inside || python.contains(&b' ') || line_len > MAX_SHEBANG {
        return None;
    }
    let mut out = b"#!".to_vec();
    out.extend_from_slice(python);
    out.push(b'\n');
    out.extend_from_slice(body);
    Some(out)
}

/// An executable script's text with its `#!` line pointed at the venv's interpreter, when that line
/// calls a generic Python (`#!/usr/bin/env python3`, `#!/usr/bin/python`, `#!python`,
/// `#!/usr/local/bin/python3.11`): run as a program, it must see the venv's packages, as dh_python3
/// points the scripts of Debian's Python packages at Debian's python3. Arguments after the interpreter
/// are kept. None when the line names another interpreter or would not fit in [`MAX_SHEBANG`] bytes.
pub fn venv_shebang(text: &[u8], final_root: &[u8]) -> Option<Vec<u8>> {
    let line_end = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
    let line = &text[2..line_end];
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let mut interpreter = words.next()?;
    if interpreter == b"/usr/bin/env" {
        interpreter = words.next()?;
    }
    let rest: Vec<&[u8]> = words.collect();
    let (dir, name) = match interpreter.iter().rposition(|&b| b == b'/') {
        Some(at) => (&interpreter[..=at], &interpreter[at + 1..]),
        None => (&b""[..], interpreter),
    };
    let generic_dir = [&b""[..], b"/bin/", b"/usr/bin/", b"/usr/local/bin/"].contains(&dir);
    let version = name.strip_prefix(b"python")?;
    let python = version.is_empty()
        || version == b"3"
        || version
            .strip_prefix(b"3.")
            .is_some_and(|minor| !minor.is_empty() && minor.iter().all(u8::is_ascii_digit));
    if !generic_dir || !python {
        return None;
    }
    let mut out = b"#!".to_vec();
    out.extend_from_slice(final_root);
    out.extend_from_slice(b"/bin/python");
    for word in rest {
        out.push(b' ');
        out.extend_from_slice(word);
    }
    if out.len() + 1 > MAX_SHEBANG {
        return None;
    }
    out.extend_from_slice(&text[line_end..]);
    Some(out)
}

/// Makes a symlink that points into the staging path relative; returns whether it changed it.
fn relink(link: &Path, staging_root: &Path, relocation: &Relocation) -> Result<bool> {
    let target =
        fs::read_link(link).with_context(|| format!("reading the symlink {}", link.display()))?;
    let target_bytes = target.as_os_str().as_encoded_bytes();
    let Some(inside) = relocation
        .staging
        .paths()
        .iter()
        .find_map(|s| target_bytes.strip_prefix(s.as_slice()))
        .filter(|rest| rest.is_empty() || rest.starts_with(b"/"))
    else {
        return Ok(false);
    };
    let inside = Path::new(std::ffi::OsStr::from_bytes(inside));
    let absolute_in_staging = staging_root.join(inside.strip_prefix("/").unwrap_or(inside));
    let from_dir = link.parent().unwrap_or(staging_root);
    let relative = relative_path(from_dir, &absolute_in_staging);
    fs::remove_file(link).with_context(|| format!("removing the symlink {}", link.display()))?;
    std::os::unix::fs::symlink(&relative, link).with_context(|| {
        format!(
            "creating the symlink {} -> {}",
            link.display(),
            relative.display()
        )
    })?;
    Ok(true)
}

/// The path that leads from directory `from` to `to`, both absolute and without `..`.
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Brings a `RECORD` up to date: rows of files that no longer exist are dropped, rows of rewritten
/// files get their new `sha256=` hash and size; the order of rows and the line ending are kept.
/// Returns whether the file changed.
///
/// # References
/// PEP 376 and PEP 627 (RECORD's CSV rows: path, `algorithm=urlsafe-base64-nopad-digest`, size); the
/// binary distribution format specification (hash rows may be empty for RECORD itself and bytecode).
fn update_record(record: &Path, changed: &BTreeSet<&Path>) -> Result<bool> {
    let text = fs::read(record).with_context(|| format!("reading {}", record.display()))?;
    let base = record
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("{} is not inside a dist-info directory", record.display()))?;
    let Some(new) = rewrite_record(&text, base, changed)
        .with_context(|| format!("reading {} as CSV", record.display()))?
    else {
        return Ok(false);
    };
    replace_file(record, &new)?;
    Ok(true)
}

/// [`update_record`] over bytes; `base` is the directory RECORD's paths are relative to. Returns the
/// new text, or None when nothing changed.
///
/// # Errors
/// When the text is not CSV, or a changed file cannot be read.
pub fn rewrite_record(
    text: &[u8],
    base: &Path,
    changed: &BTreeSet<&Path>,
) -> Result<Option<Vec<u8>>> {
    let crlf = text.windows(2).any(|w| w == b"\r\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut writer = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let mut modified = false;
    for row in reader.byte_records() {
        let row = row?;
        let Some(name) = row.get(0) else { continue };
        let file = crate::layout::normalize(&base.join(&*String::from_utf8_lossy(name)));
        if fs::symlink_metadata(&file).is_err() {
            modified = true;
            continue;
        }
        let has_hash = row.get(1).is_some_and(|h| !h.is_empty());
        if has_hash && changed.contains(file.as_path()) {
            let content = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let digest = sha2::Sha256::digest(&content);
            let hash = format!(
                "sha256={}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
            );
            writer.write_record([name, hash.as_bytes(), content.len().to_string().as_bytes()])?;
            modified = true;
        } else {
            writer.write_byte_record(&row)?;
        }
    }
    if !modified {
        return Ok(None);
    }
    Ok(Some(writer.into_inner().map_err(|e| e.into_error())?))
}

/// How the package handles bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytecode {
    /// Ship none; postinst compiles the venv at its final path (the default).
    CompileOnInstall,
    /// Ship hash-based .pyc files compiled at build time for the final path (`--ship-bytecode`).
    Ship,
}

/// Compiles the venv's `lib` directory for `--ship-bytecode`: checked-hash .pyc files (PEP 552), so
/// neither the build time nor file times reach them, with the staging path replaced by the final one
/// in every code object's file name (`compileall -s/-p`, Python 3.9 and later).
///
/// # Errors
/// When compileall fails (a module with a syntax error, for example); the message ends with its last
/// error line.
pub fn compile_bytecode(
    staging_root: &Path,
    final_root: &Path,
    reporter: &crate::debhelper::Reporter,
) -> Result<()> {
    // -B: the interpreter must not write bytecode of its own while starting (setuptools' .pth imports
    // _distutils_hack), which compileall would then take for up to date; -f recompiles everything.
    let command = crate::command::Command::new(staging_root.join("bin/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-B",
            "-m",
            "compileall",
            "-f",
            "-q",
            "-j0",
            "--invalidation-mode",
            "checked-hash",
            "-s",
        ])
        .arg(staging_root)
        .arg("-p")
        .arg(final_root)
        .arg(staging_root.join("lib"));
    reporter
        .doit(&command)
        .context("compiling the venv's bytecode (--ship-bytecode)")
}

/// The maintainer-script snippets of a venv package: dh-virtualenv's variables, and the bytecode
/// policy.
///
/// - **Variables.** The `postinst` and `prerm` snippets start by setting `dh_venv_install_dir` (the
///   venv's final path) and `dh_venv_package` (the binary package), as dh-virtualenv 1.2.2's did
///   (`autoscripts/postinst-dh-virtualenv`, `prerm-dh-virtualenv`, filled by `bin/dh_virtualenv`).
///   debhelper pastes the snippets in place of `#DEBHELPER#`, so a package's own code after it can use
///   them (`cd "$dh_venv_install_dir/lib"`), as packages written for dh-virtualenv do.
/// - **Bytecode.** By default the package ships no bytecode and `postinst` byte-compiles the venv at
///   its final path (so every `.pyc` names that path, by construction); with [`Bytecode::Ship`] there
///   is nothing to compile. Either way `prerm` removes every `__pycache__` directory, including those
///   Python wrote while the program ran, and `postrm` sweeps what appeared after `prerm` and the
///   directories dpkg could not remove because of it, so that removal leaves nothing behind.
/// - **Triggers.** dh-virtualenv's `postinst` acted on `triggered` for an interpreter
///   (`/usr/bin/python3.X`, a file trigger) and for its named trigger
///   `dh-virtualenv-interpreter-update`, which packages declare interest in with their own
///   `debian/<package>.triggers`. A venv made by `python3 -m venv` links its interpreter to the
///   system's, so an interpreter upgrade needs nothing of it but fresh bytecode: `triggered` compiles
///   the venv again (with [`Bytecode::Ship`], it does nothing) and never fails.
///
/// Returns (script, snippet) pairs for [`crate::debhelper::autoscript`].
///
/// # References
/// Debian Python Policy 3.7 ("Byte compilation"), which dh_python3's `py3compile`/`py3clean` implement
/// for Debian's own packages; deb-triggers(5) and deb-postinst(5) for `triggered`.
pub fn maintainer_scripts(
    package: &str,
    final_root: &Path,
    bytecode: Bytecode,
) -> Vec<(&'static str, String)> {
    use crate::command::shell_quote;
    let venv = shell_quote(&final_root.to_string_lossy());
    // Sorted and always single-quoted, as dh-virtualenv wrote them.
    let quoted = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let variables = format!(
        "dh_venv_install_dir={}\ndh_venv_package={}",
        quoted(&final_root.to_string_lossy()),
        quoted(package)
    );
    let clean = format!(
        "find {venv} -depth -type d -name __pycache__ -exec rm -rf {{}} + 2>/dev/null || true"
    );
    let postinst = match bytecode {
        Bytecode::CompileOnInstall => format!(
            "{variables}\n\
             if [ \"$1\" = configure ] || [ \"$1\" = triggered ] || [ \"$1\" = abort-upgrade ] || [ \"$1\" = abort-deconfigure ] || [ \"$1\" = abort-remove ]; then\n\
             \tif [ -x {venv}/bin/python ]; then\n\
             \t\t{venv}/bin/python -m compileall -q -j0 {venv}/lib >/dev/null 2>&1 || true\n\
             \tfi\n\
             fi"
        ),
        Bytecode::Ship => variables.clone(),
    };
    vec![
        ("postinst", postinst),
        (
            "prerm",
            format!("{variables}\nif [ -d {venv} ]; then\n\t{clean}\nfi"),
        ),
        (
            "postrm",
            format!(
                "if [ \"$1\" = remove ] || [ \"$1\" = purge ]; then\n\
                 \tif [ -d {venv} ]; then\n\
                 \t\t{clean}\n\
                 \t\tfind {venv} -depth -type d -empty -delete 2>/dev/null || true\n\
                 \tfi\n\
                 fi"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING: &str = "/build/demo-1.0/debian/demo/opt/venvs/demo";

    /// No upstream build path to report.
    fn none() -> PathMatcher {
        PathMatcher::new([]).unwrap()
    }

    fn relocation() -> Relocation {
        Relocation::new(
            vec![STAGING.as_bytes().to_vec()],
            b"/opt/venvs/demo".to_vec(),
        )
        .unwrap()
    }

    fn rewrite(text: &str) -> Option<String> {
        rewrite_text(text.as_bytes(), &relocation()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn rewrites_shebang_keeping_interpreter_name_and_body() {
        let script = format!("#!{STAGING}/bin/python3\n# -*- coding: utf-8 -*-\nimport sys\n");
        assert_eq!(
            rewrite(&script).unwrap(),
            "#!/opt/venvs/demo/bin/python3\n# -*- coding: utf-8 -*-\nimport sys\n"
        );
    }

    #[test]
    fn turns_pips_sh_exec_form_into_a_plain_shebang() {
        let long = format!("/build/{}/debian/demo/opt/venvs/demo", "x".repeat(120));
        let script = format!(
            "#!/bin/sh\n'''exec' {long}/bin/python \"$0\" \"$@\"\n' '''\n# -*- coding: utf-8 -*-\nimport re\n"
        );
        let relocation =
            Relocation::new(vec![long.into_bytes()], b"/opt/venvs/demo".to_vec()).unwrap();
        let out = rewrite_text(script.as_bytes(), &relocation).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "#!/opt/venvs/demo/bin/python\n# -*- coding: utf-8 -*-\nimport re\n"
        );
    }

    #[test]
    fn keeps_the_sh_exec_form_when_the_final_path_is_too_long_for_a_shebang() {
        let final_root = format!("/opt/{}", "y".repeat(130));
        let script = format!(
            "#!/bin/sh\n'''exec' \"{STAGING}/bin/python\" \"$0\" \"$@\"\n' '''\nimport re\n"
        );
        let relocation = Relocation::new(
            vec![STAGING.as_bytes().to_vec()],
            final_root.clone().into_bytes(),
        )
        .unwrap();
        let out = String::from_utf8(rewrite_text(script.as_bytes(), &relocation).unwrap()).unwrap();
        assert_eq!(
            out,
            format!(
                "#!/bin/sh\n'''exec' \"{final_root}/bin/python\" \"$0\" \"$@\"\n' '''\nimport re\n"
            )
        );
    }

    #[test]
    fn rewrites_every_activate_variant() {
        let cases = [
            // bin/activate (sh/bash), Python 3.11 and the indented form of later releases
            (
                format!("VIRTUAL_ENV=\"{STAGING}\"\nexport VIRTUAL_ENV\n"),
                "VIRTUAL_ENV=\"/opt/venvs/demo\"\nexport VIRTUAL_ENV\n".to_owned(),
            ),
            (
                format!("case \"$(uname)\" in\n    *) export VIRTUAL_ENV='{STAGING}' ;;\nesac\n"),
                "case \"$(uname)\" in\n    *) export VIRTUAL_ENV='/opt/venvs/demo' ;;\nesac\n"
                    .to_owned(),
            ),
            // bin/activate.csh
            (
                format!("setenv VIRTUAL_ENV \"{STAGING}\"\n"),
                "setenv VIRTUAL_ENV \"/opt/venvs/demo\"\n".to_owned(),
            ),
            // bin/activate.fish
            (
                format!("set -gx VIRTUAL_ENV \"{STAGING}\"\n"),
                "set -gx VIRTUAL_ENV \"/opt/venvs/demo\"\n".to_owned(),
            ),
            // bin/activate.nu (virtualenv)
            (
                format!("    let virtual_env = r#'{STAGING}'#\n"),
                "    let virtual_env = r#'/opt/venvs/demo'#\n".to_owned(),
            ),
            // bin/Activate.ps1 when a path is baked in (virtualenv)
            (
                format!("$VenvDir = '{STAGING}'\r\n"),
                "$VenvDir = '/opt/venvs/demo'\r\n".to_owned(),
            ),
            // pyvenv.cfg (Python 3.11's command line) and a .pth file
            (
                format!("home = /usr/bin\ncommand = /usr/bin/python3.11 -m venv {STAGING}\n"),
                "home = /usr/bin\ncommand = /usr/bin/python3.11 -m venv /opt/venvs/demo\n"
                    .to_owned(),
            ),
            (
                format!("{STAGING}/src\n"),
                "/opt/venvs/demo/src\n".to_owned(),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                rewrite(&input).as_deref(),
                Some(expected.as_str()),
                "input: {input}"
            );
        }
    }

    #[test]
    fn leaves_longer_names_and_unrelated_text_alone() {
        assert_eq!(rewrite(&format!("{STAGING}-extra and {STAGING}x")), None);
        assert_eq!(rewrite("#!/usr/bin/python3\nprint('hi')\n"), None);
        assert_eq!(
            rewrite(&format!("a:{STAGING}:b")).as_deref(),
            Some("a:/opt/venvs/demo:b")
        );
    }

    #[test]
    fn relative_paths_between_directories() {
        assert_eq!(
            relative_path(Path::new("/v/bin"), Path::new("/v/lib/x")),
            PathBuf::from("../lib/x")
        );
        assert_eq!(
            relative_path(Path::new("/v"), Path::new("/v/lib")),
            PathBuf::from("lib")
        );
        assert_eq!(
            relative_path(Path::new("/v/lib"), Path::new("/v/lib")),
            PathBuf::from(".")
        );
    }

    #[test]
    fn record_rows_follow_the_files_as_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let dist_info = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(
            dir.path().join("bin/demo"),
            "#!/opt/venvs/demo/bin/python\n",
        )
        .unwrap();
        fs::write(site.join("demo.py"), "x = 1\n").unwrap();
        let record = "../../../bin/demo,sha256=stale,40\r\ndemo.py,sha256=keep,6\r\n\
                      __pycache__/demo.cpython-311.pyc,,\r\ndemo-1.0.dist-info/RECORD,,\r\n";
        fs::write(dist_info.join("RECORD"), record).unwrap();
        let script = dir.path().join("bin/demo");
        let changed: BTreeSet<&Path> = [script.as_path()].into_iter().collect();
        assert!(update_record(&dist_info.join("RECORD"), &changed).unwrap());
        let digest = sha2::Sha256::digest(b"#!/opt/venvs/demo/bin/python\n");
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        assert_eq!(
            fs::read_to_string(dist_info.join("RECORD")).unwrap(),
            format!(
                "../../../bin/demo,sha256={hash},29\r\ndemo.py,sha256=keep,6\r\ndemo-1.0.dist-info/RECORD,,\r\n"
            )
        );
    }

    #[test]
    fn relocates_a_tree_and_relinks_absolute_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("opt/venvs/demo");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("lib/__pycache__")).unwrap();
        fs::write(
            root.join("lib/__pycache__/x.cpython-311.pyc"),
            b"\0bytecode",
        )
        .unwrap();
        let staging = root.to_string_lossy().into_owned();
        fs::write(root.join("bin/tool"), format!("#!{staging}/bin/python\n")).unwrap();
        fs::write(root.join("bin/blob"), format!("\0{staging}")).unwrap();
        std::os::unix::fs::symlink(root.join("bin/tool"), root.join("tool-link")).unwrap();
        let relocation = Relocation::new(
            vec![staging.clone().into_bytes()],
            b"/opt/venvs/demo".to_vec(),
        )
        .unwrap();
        let report = relocate(
            &root,
            &relocation,
            &|_| true,
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert_eq!(report.bytecode_removed, 1);
        assert!(!root.join("lib/__pycache__").exists());
        assert_eq!(report.rewritten, vec![root.join("bin/tool")]);
        assert_eq!(
            fs::read_to_string(root.join("bin/tool")).unwrap(),
            "#!/opt/venvs/demo/bin/python\n"
        );
        assert_eq!(
            fs::read_link(root.join("tool-link")).unwrap(),
            PathBuf::from("bin/tool")
        );
        // Binary content is not rewritten; the audit reports it.
        assert_eq!(
            fs::read(root.join("bin/blob")).unwrap(),
            format!("\0{staging}").into_bytes()
        );
        let leaks: Vec<&PathBuf> = report.leaks.iter().map(|l| &l.file).collect();
        assert_eq!(leaks, vec![&root.join("bin/blob")]);
    }

    #[test]
    fn the_venv_gitignore_is_removed_and_other_gitignore_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("venv");
        fs::create_dir_all(root.join("lib/project")).unwrap();
        fs::write(
            root.join(".gitignore"),
            "# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n",
        )
        .unwrap();
        fs::write(root.join("lib/project/.gitignore"), "*\n").unwrap();
        let relocation = Relocation::new(
            vec![root.to_string_lossy().into_owned().into_bytes()],
            b"/opt/venvs/demo".to_vec(),
        )
        .unwrap();
        let report = relocate(
            &root,
            &relocation,
            &|_| true,
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert_eq!(report.scm_ignore_removed, vec![root.join(".gitignore")]);
        assert!(!root.join(".gitignore").exists());
        assert!(root.join("lib/project/.gitignore").exists());

        // A .gitignore of the user's at the top, with patterns of its own, stays.
        fs::write(root.join(".gitignore"), "*\n!keep.txt\n").unwrap();
        let report = relocate(
            &root,
            &relocation,
            &|_| true,
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert!(report.scm_ignore_removed.is_empty());
        assert!(root.join(".gitignore").exists());
    }

    #[test]
    fn relocation_breaks_hard_links_keeps_raw_link_targets_and_only_touches_what_is_selected() {
        use std::ffi::OsStr;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("opt/venvs/demo");
        fs::create_dir_all(root.join("bin")).unwrap();
        let staging = root.to_string_lossy().into_owned();
        let outside = dir.path().join("outside-script");
        fs::write(&outside, format!("#!{staging}/bin/python\n")).unwrap();
        fs::hard_link(&outside, root.join("bin/linked")).unwrap();
        fs::write(
            root.join("bin/unselected"),
            format!("#!{staging}/bin/python\n"),
        )
        .unwrap();
        let mut target = root.clone().into_os_string().into_encoded_bytes();
        target.extend_from_slice(b"/lib/caf\xe9");
        std::os::unix::fs::symlink(OsStr::from_bytes(&target), root.join("raw-link")).unwrap();
        let relocation = Relocation::new(
            vec![staging.clone().into_bytes()],
            b"/opt/venvs/demo".to_vec(),
        )
        .unwrap();
        let report = relocate(
            &root,
            &relocation,
            &|p: &Path| !p.ends_with("unselected"),
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert_eq!(report.rewritten, [root.join("bin/linked")]);
        assert_eq!(
            fs::read_to_string(&outside).unwrap(),
            format!("#!{staging}/bin/python\n"),
            "the file outside the venv was written through its hard link"
        );
        assert_eq!(
            fs::read_link(root.join("raw-link"))
                .unwrap()
                .as_os_str()
                .as_bytes(),
            b"lib/caf\xe9"
        );
        assert!(
            fs::read_to_string(root.join("bin/unselected"))
                .unwrap()
                .contains(&staging)
        );
    }

    #[test]
    fn a_record_vendored_inside_a_package_is_left_as_installed() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let vendored = site.join("setuptools/_vendor/wheel-0.46.3.dist-info");
        let installed = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&vendored).unwrap();
        fs::create_dir_all(&installed).unwrap();
        let rows = "../../../../bin/wheel,sha256=x,10\n";
        fs::write(vendored.join("RECORD"), rows).unwrap();
        fs::write(installed.join("RECORD"), "../../../bin/gone,sha256=x,10\n").unwrap();
        let updated = update_records(dir.path(), &BTreeSet::new()).unwrap();
        assert_eq!(updated, [installed.join("RECORD")]);
        assert_eq!(fs::read_to_string(vendored.join("RECORD")).unwrap(), rows);
    }

    #[test]
    fn executable_scripts_calling_a_generic_python_get_the_venvs() {
        let venv = b"/opt/venvs/demo";
        let cases: [(&[u8], Option<&[u8]>); 8] = [
            (
                b"#!/usr/bin/env python3\nimport x\n",
                Some(b"#!/opt/venvs/demo/bin/python\nimport x\n"),
            ),
            (
                b"#!/usr/bin/python -u\n",
                Some(b"#!/opt/venvs/demo/bin/python -u\n"),
            ),
            (b"#!python\n", Some(b"#!/opt/venvs/demo/bin/python\n")),
            (
                b"#!/usr/local/bin/python3.11\n",
                Some(b"#!/opt/venvs/demo/bin/python\n"),
            ),
            (b"#!/bin/sh\n", None),
            (b"#!/usr/bin/env perl\n", None),
            (b"#!/usr/bin/python2.7\n", None),
            (b"#!/opt/venvs/demo/bin/python\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                venv_shebang(text, venv).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn executables_that_are_neither_elf_nor_script_lose_their_execute_bits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("opt/venvs/demo");
        let pkg = root.join("lib/python3.11/site-packages/pkg");
        fs::create_dir_all(&pkg).unwrap();
        let data = pkg.join("data.py");
        let tool = pkg.join("tool.py");
        fs::write(&data, "VALUE = 1\n").unwrap();
        fs::write(&tool, "#!/usr/bin/env python3\nprint(1)\n").unwrap();
        for file in [&data, &tool] {
            fs::set_permissions(file, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let relocation =
            Relocation::new(vec![b"/build/x".to_vec()], b"/opt/venvs/demo".to_vec()).unwrap();
        let report = relocate(
            &root,
            &relocation,
            &|_| true,
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert_eq!(report.made_not_executable, std::slice::from_ref(&data));
        assert_eq!(
            fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(report.rewritten, std::slice::from_ref(&tool));
        assert_eq!(
            fs::read_to_string(&tool).unwrap(),
            "#!/opt/venvs/demo/bin/python\nprint(1)\n"
        );
        assert_eq!(
            fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_name_holding_a_newline_is_normalized_as_one_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A directory named "a\n": the file's name, split at the newline, would be "…/a" and an
        // absolute path outside the venv.
        let outside = root.join("outside.zip");
        let mut tricky = root.as_os_str().as_encoded_bytes().to_vec();
        tricky.extend_from_slice(b"/venv/a\n");
        tricky.extend_from_slice(outside.as_os_str().as_encoded_bytes());
        let tricky = PathBuf::from(std::ffi::OsStr::from_bytes(&tricky));
        fs::create_dir_all(tricky.parent().unwrap()).unwrap();
        let make_zip = |path: &Path| {
            let code = "import sys, zipfile\n\
                        with zipfile.ZipFile(sys.argv[1], 'w') as z:\n    \
                        z.writestr(zipfile.ZipInfo('x.txt', (2001, 2, 3, 4, 5, 6)), 'x')\n";
            let status = std::process::Command::new("/usr/bin/python3")
                .args(["-c", code])
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        };
        make_zip(&outside);
        make_zip(&tricky);
        let before = fs::read(&outside).unwrap();
        let reporter = crate::debhelper::Reporter::default();
        let normalized = strip_nondeterminism(std::slice::from_ref(&tricky), &reporter).unwrap();
        assert_eq!(normalized, std::slice::from_ref(&tricky));
        assert_eq!(
            fs::read(&outside).unwrap(),
            before,
            "normalized outside the venv"
        );
        assert_ne!(
            fs::read(&tricky).unwrap(),
            before,
            "the venv's own archive was not normalized"
        );
    }

    #[test]
    fn maintainer_scripts_set_dh_virtualenvs_variables_and_accept_triggers() {
        let scripts = maintainer_scripts(
            "relay",
            Path::new("/usr/lib/relay's venv"),
            Bytecode::CompileOnInstall,
        );
        let script = |name: &str| &scripts.iter().find(|(s, _)| *s == name).unwrap().1;
        for name in ["postinst", "prerm"] {
            assert!(
                script(name).starts_with(
                    "dh_venv_install_dir='/usr/lib/relay'\\''s venv'\ndh_venv_package='relay'\n"
                ),
                "{}",
                script(name)
            );
        }
        assert!(script("postinst").contains("[ \"$1\" = triggered ]"));
        let shipped = maintainer_scripts("relay", Path::new("/opt/venvs/relay"), Bytecode::Ship);
        assert_eq!(
            shipped[0],
            (
                "postinst",
                "dh_venv_install_dir='/opt/venvs/relay'\ndh_venv_package='relay'".to_owned()
            )
        );
    }
}
