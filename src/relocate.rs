//! Relocation: makes a venv built at the staging path work at its final path.
//!
//! Takes the venv that install built at `staging_root` and rewrites, in place, every reference to
//! `staging_root` into `final_root`: console-script shebangs (pip's `/bin/sh` + `'''exec'` form for
//! long paths becomes a plain shebang when the final path allows, [`crate::shebang`]), every
//! activate script, `pyvenv.cfg`, `.pth` files and any other text file; absolute symlinks into the
//! venv become relative. It removes the bytecode pip or the build left (`__pycache__`; the package
//! byte-compiles at installation instead, [`crate::bytecode`]) and `direct_url.json` files that
//! record a local build path (PEP 610). It returns a [`RelocationReport`], with each entry audited
//! as left ([`crate::leak`]) and the files archive normalization ([`mod@crate::normalize`]) is to
//! look at; RECORD files are brought up to date later ([`crate::record`]). It writes only under
//! `staging_root`; ELF and other binary files are left for the next stages.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::inventory::{Entry, HEAD_BYTES, Inventory, Kind, class_of};
use crate::leak::{Leak, leak_in};
use crate::pathmatch::PathMatcher;
use crate::shebang::{plain_shebang, venv_shebang};
use crate::tree::replace as replace_file;

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
    /// for [`crate::normalize::strip_nondeterminism`].
    pub archive_candidates: Vec<PathBuf>,
    /// How many regular files were selected (and read).
    pub regular_files: usize,
    /// The audit of the entries as relocation left them ([`leak_in`]): the selected
    /// files and symlinks that still name a forbidden path, in walk order.
    pub leaks: Vec<Leak>,
    /// The selected files and symlinks that name a temporary build path of another machine
    /// ([`crate::audit::upstream_build_paths`]), in walk order: upstream's content, reported and never
    /// rewritten.
    pub upstream: Vec<Leak>,
}

/// Relocates the entries of the venv at `staging_root` that `selected` accepts (all of them when
/// dh_rustvenv builds the venv; what rules added or changed since, in the late stage). Selected
/// bytecode files are removed, and then every `__pycache__` directory left empty. Each entry is
/// audited as it is left: for this build's paths (`forbidden`), and for the build paths of the
/// machines upstream built on (`upstream`), which are only reported.
///
/// # Errors
/// When a file or directory of the venv cannot be read or written; the message names it.
pub fn relocate(
    inventory: &mut Inventory,
    relocation: &Relocation,
    selected: &(dyn Fn(&Path) -> bool + Sync),
    (forbidden, upstream): (&PathMatcher, &PathMatcher),
) -> Result<RelocationReport> {
    use rayon::prelude::*;
    let staging_root = inventory.root.clone();
    let chosen: Vec<usize> = (0..inventory.entries.len())
        .filter(|&i| {
            let entry = &inventory.entries[i];
            entry.kind != Kind::Directory && selected(&entry.path)
        })
        .collect();
    // Each entry is read once and rewritten on its own, both cores at once; the outcomes are taken
    // in walk order.
    let outcomes: Vec<Result<Outcome>> = chosen
        .par_iter()
        .map(|&i| {
            let entry = &inventory.entries[i];
            relocate_entry(entry, &staging_root, relocation, (forbidden, upstream))
        })
        .collect();
    let mut report = RelocationReport::default();
    let mut removed = BTreeSet::new();
    for (i, outcome) in chosen.into_iter().zip(outcomes) {
        let outcome = outcome?;
        let entry = &mut inventory.entries[i];
        // The inventory follows what relocation did: a new #! line, execute bits removed.
        if let Kind::File { mode, class } = &mut entry.kind {
            if let Some(head) = &outcome.new_head {
                *class = class_of(head);
            }
            if outcome.made_not_executable {
                *mode &= !0o111;
            }
        }
        let path = entry.path.clone();
        if matches!(
            outcome.change,
            Change::BytecodeRemoved | Change::DirectUrlRemoved | Change::ScmIgnoreRemoved
        ) {
            removed.insert(path.clone());
        }
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
            report.leaks.push(Leak {
                file: path.clone(),
                ..leak
            });
        }
        if let Some(found) = outcome.upstream {
            report.upstream.push(Leak {
                file: path.clone(),
                ..found
            });
        }
        if outcome.made_not_executable {
            report.made_not_executable.push(path);
        }
    }
    inventory.forget(&removed);
    remove_empty_bytecode_dirs(inventory)?;
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
    leak: Option<Leak>,
    /// A build path of upstream's machines in the entry as left.
    upstream: Option<Leak>,
    /// The first bytes of a file relocation rewrote, for the inventory's classification.
    new_head: Option<Vec<u8>>,
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
    entry: &Entry,
    staging_root: &Path,
    relocation: &Relocation,
    (forbidden, upstream): (&PathMatcher, &PathMatcher),
) -> Result<Outcome> {
    let path = entry.path.as_path();
    let mut outcome = Outcome {
        new_head: None,
        change: Change::None,
        read: false,
        archive_candidate: false,
        made_not_executable: false,
        leak: None,
        upstream: None,
    };
    let audit = |content: &[u8]| leak_in(content, forbidden, &relocation.final_root);
    let foreign = |content: &[u8]| leak_in(content, upstream, &relocation.final_root);
    if entry.is_file() && path.extension().is_some_and(|e| e == "pyc") {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        outcome.change = Change::BytecodeRemoved;
    } else if entry.kind == Kind::Symlink {
        if relink(path, staging_root, relocation)? {
            outcome.change = Change::Relinked;
        }
        let target = fs::read_link(path)
            .with_context(|| format!("reading the symlink {}", path.display()))?;
        outcome.leak = audit(target.as_os_str().as_bytes());
        outcome.upstream = foreign(target.as_os_str().as_bytes());
    } else if let Kind::File { mode, .. } = entry.kind {
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
        if crate::tree::is_executable(mode) && !crate::tree::is_elf(&content) {
            let current = new.as_deref().unwrap_or(&content);
            if current.starts_with(b"#!") {
                if let Some(fixed) = venv_shebang(current, &relocation.final_root) {
                    new = Some(fixed);
                }
            } else {
                // Neither ELF nor script: nothing can run it (lintian's executable-not-elf-or-script).
                // A chmod changes the inode: another name of it (outside the venv) must not change.
                crate::tree::unshare(path)?;
                fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o111))
                    .with_context(|| format!("changing the mode of {}", path.display()))?;
                outcome.made_not_executable = true;
            }
        }
        outcome.leak = audit(new.as_deref().unwrap_or(&content));
        outcome.upstream = foreign(new.as_deref().unwrap_or(&content));
        if let Some(new) = new {
            replace_file(path, &new)?;
            outcome.new_head = Some(new[..new.len().min(HEAD_BYTES)].to_vec());
            outcome.change = Change::Rewritten;
        }
    }
    Ok(outcome)
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

/// Removes the `__pycache__` directories of the inventory that hold nothing (any more), and forgets
/// them.
fn remove_empty_bytecode_dirs(inventory: &mut Inventory) -> Result<()> {
    let dirs: Vec<PathBuf> = inventory
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Directory && e.path.file_name() == Some("__pycache__".as_ref()))
        .map(|e| e.path.clone())
        .collect();
    let mut removed = BTreeSet::new();
    for dir in dirs.iter().rev() {
        let empty = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if empty {
            fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))?;
            removed.insert(dir.clone());
        }
    }
    inventory.forget(&removed);
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
/// path. A script in pip's long-path form (`#!/bin/sh`, then `'''exec' <python> "$0" "$@"`, then
/// `' '''`) whose interpreter ends up inside the final path gets a plain `#!<python>` line instead
/// ([`plain_shebang`]), when that line fits in [`crate::shebang::MAX_SHEBANG`] bytes and the path
/// has no space: shells and lintian then read it as the Python script it is.
pub fn rewrite_text(content: &[u8], relocation: &Relocation) -> Option<Vec<u8>> {
    let text = relocation
        .staging
        .replace_all(content, &relocation.final_root)?;
    Some(plain_shebang(&text, &relocation.final_root).unwrap_or(text))
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
            &mut Inventory::scan(&root).unwrap(),
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
            &mut Inventory::scan(&root).unwrap(),
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
            &mut Inventory::scan(&root).unwrap(),
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
            &mut Inventory::scan(&root).unwrap(),
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
            &mut Inventory::scan(&root).unwrap(),
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
    fn removing_execute_bits_never_reaches_a_hard_linked_file_outside_the_venv() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("opt/venvs/demo");
        let pkg = root.join("lib/python3.11/site-packages/pkg");
        fs::create_dir_all(&pkg).unwrap();
        let outside = dir.path().join("cache-data.py");
        fs::write(&outside, "VALUE = 1\n").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
        let data = pkg.join("data.py");
        fs::hard_link(&outside, &data).unwrap();
        let relocation =
            Relocation::new(vec![b"/build/x".to_vec()], b"/opt/venvs/demo".to_vec()).unwrap();
        let report = relocate(
            &mut Inventory::scan(&root).unwrap(),
            &relocation,
            &|_| true,
            (&relocation.staging, &none()),
        )
        .unwrap();
        assert_eq!(report.made_not_executable, std::slice::from_ref(&data));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&data), 0o644);
        assert_eq!(mode(&outside), 0o755, "the chmod reached the file outside");
        assert_eq!(fs::read_to_string(&data).unwrap(), "VALUE = 1\n");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "VALUE = 1\n");
    }
}
