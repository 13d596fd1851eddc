//! The lintian overrides a venv package needs, worked out from the venv as shipped.
//!
//! A venv makes some tags inherent, and a bundled wheel others. Each override is precise: a tag a
//! venv makes inherent names the part of the venv it is about (`bin/*`, `lib/*`) and is written only
//! when some file there calls for it; a tag that a file of a wheel makes inherent names that file,
//! under a comment that says why. (Lintian warns, `mismatched-override`, about an override that
//! matches nothing where the tag is issued for something else.) The rules mirror lintian 2.116's own
//! checks: `binaries/prerequisites` for `shared-library-lacks-prerequisites` and
//! `library-not-linked-against-libc`, `libraries/embedded` (whose table of embedded libraries,
//! `/usr/share/lintian/data/binaries/embedded-libs`, is read when lintian is installed) for
//! `embedded-library`: every entry of that table, over every ELF file of the venv, matched as
//! lintian matches it. The overrides are one block between marker lines, which a later run replaces.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::debhelper::Package;
use crate::elf::ElfFile;
use crate::inventory::Entry;
use crate::outputs::Outputs;
use crate::shebang::{NameVersion, Shebang, versioned_name};

pub mod embedded;

use embedded::{EmbeddedLibrary, embedded_in_venv};

/// The first line of the block of overrides dh_rustvenv installs.
const OVERRIDES_START: &str = "# Installed by dh_rustvenv:";
/// The last line of that block.
const OVERRIDES_END: &str = "# End of the overrides installed by dh_rustvenv";

/// What the venv holds that lintian has something to say about.
#[derive(Debug, Default)]
pub struct VenvFacts<'a> {
    /// Every ELF file of the venv.
    pub elf_files: &'a [ElfFile],
    /// The files of the venv that start with the ELF magic number but that the ELF parser rejected
    /// ([`crate::elf::ElfReport::unreadable`]): file(1) still calls them ELF, so lintian checks them.
    pub unparsed_elf_files: &'a [PathBuf],
    /// ELF files left unstripped because stripping would break them, with the reason; those with a
    /// symbol table get an override.
    pub unstripped: &'a [(PathBuf, String)],
    /// The entries of lintian's table of embedded libraries, from [`embedded::embedded_libraries`].
    pub embedded_libraries: &'a [EmbeddedLibrary],
    /// The package's source package name, which turns off the table's entries of the library it
    /// builds.
    pub source_package: &'a str,
    /// The venv's entries, as the inventory classified them (scripts with their `#!` line).
    pub entries: &'a [Entry],
}

/// The override block for the venv at `staging_root`, which lives at `final_root`.
///
/// Inherent to any venv:
/// - `dir-or-file-in-opt`, when the venv lives under /opt: it is add-on software in the sense of the
///   Filesystem Hierarchy Standard, which Debian Policy 9.1 follows, and /opt/venvs is where
///   dh-virtualenv users expect it.
/// - `arch-dependent-file-in-usr-share`, when the venv lives under /usr/share/python and has ELF files:
///   the default install root of dh-virtualenv 1.2.2's build system (`Buildsystem/dh_virtualenv.pm`),
///   which packages built with it keep.
/// - `unusual-interpreter` for the venv's own scripts: a console script must run the venv's
///   interpreter, `<final_root>/bin/python`, or it would not see the venv.
/// - `script-not-executable` and `unusual-interpreter` inside the venv's `lib`: modules of third-party
///   wheels keep the shebang they were published with; they are imported, not run.
///
/// Inherent to one file of a wheel, each under a comment giving the reason:
/// - `unstripped-binary-or-object`, for a file stripping would break;
/// - `library-not-linked-against-libc`, for an extension module or bundled library that needs other
///   libraries but no libc function of its own (linked `--as-needed`; the interpreter that loads it
///   links libc);
/// - `shared-library-lacks-prerequisites`, for one that needs no library at all;
/// - `embedded-library`, for one that carries a library statically, as wheels must;
/// - `custom-library-search-path` (`relative-library-search-path`), for an RPATH or RUNPATH entry
///   outside `$ORIGIN` and the venv, left by the machine the wheel was built on.
pub fn venv_overrides(
    package: &str,
    final_root: &Path,
    staging_root: &Path,
    facts: &VenvFacts,
) -> String {
    let relative = |path: &Path| -> Option<String> {
        let inside = path.strip_prefix(staging_root).ok()?;
        let shipped = final_root.join(inside);
        let text = shipped.strip_prefix("/").unwrap_or(&shipped).to_str()?;
        // An override's pointer cannot hold white space or brackets.
        (!text.contains(|c: char| c.is_whitespace() || c == '[' || c == ']'))
            .then(|| text.to_owned())
    };
    let root = final_root
        .strip_prefix("/")
        .unwrap_or(final_root)
        .display()
        .to_string();
    let scripts = ScriptsFound::of(facts.entries, staging_root, final_root);
    let mut text = format!(
        "{OVERRIDES_START} tags that a virtualenv in {} makes inherent.\n",
        final_root.display()
    );
    if final_root.starts_with("/opt") {
        let opt_dir = final_root
            .parent()
            .and_then(|p| p.strip_prefix("/").ok())
            .unwrap_or(Path::new("opt"));
        text.push_str(&format!(
            "{package}: dir-or-file-in-opt [{}/*]\n",
            opt_dir.display()
        ));
    }
    if final_root.starts_with(crate::layout::BUILD_SYSTEM_INSTALL_ROOT)
        && !facts.elf_files.is_empty()
    {
        text.push_str(&format!(
            "# The venv is where dh-virtualenv's build system puts it, and packages built with it keep it.\n\
             {package}: arch-dependent-file-in-usr-share [{root}/*]\n"
        ));
    }
    if scripts.venv_python_in_bin {
        text.push_str(&format!(
            "{package}: unusual-interpreter {}/bin/python* [{root}/bin/*]\n",
            final_root.display()
        ));
    }
    if scripts.unusual_in_lib {
        text.push_str(&format!(
            "{package}: unusual-interpreter * [{root}/lib/*]\n"
        ));
    }
    if scripts.not_executable_in_lib {
        text.push_str(&format!(
            "{package}: script-not-executable [{root}/lib/*]\n"
        ));
    }
    for (path, reason) in facts.unstripped {
        // `file` calls an ELF file without a symbol table stripped, whatever else it carries.
        let has_symtab = facts
            .elf_files
            .iter()
            .any(|f| f.path == *path && f.has_symtab);
        if let Some(pointer) = relative(path).filter(|_| has_symtab) {
            text.push_str(&format!(
                "# {reason}\n{package}: unstripped-binary-or-object [{pointer}]\n"
            ));
        }
    }
    for file in facts.elf_files {
        let Some(pointer) = relative(&file.path) else {
            continue;
        };
        if let Some((tag, reason)) = prerequisites_tag(file) {
            text.push_str(&format!("# {reason}\n{package}: {tag} [{pointer}]\n"));
        }
        let final_text = final_root.to_string_lossy();
        for (section, dir) in &file.foreign_search_paths {
            if dir.starts_with(final_text.as_ref()) || dir.contains(char::is_whitespace) {
                continue;
            }
            let tag = if dir.starts_with('/') {
                "custom-library-search-path"
            } else {
                "relative-library-search-path"
            };
            text.push_str(&format!(
                "# The wheel's library searches {dir}, a directory of the machine it was built on: \
                 nothing is installed there, and the venv's own libraries are found through \
                 $ORIGIN.\n{package}: {tag} {section} {dir} [{pointer}]\n"
            ));
        }
    }
    let mut elf_paths: Vec<&Path> = facts
        .elf_files
        .iter()
        .map(|f| f.path.as_path())
        .chain(facts.unparsed_elf_files.iter().map(PathBuf::as_path))
        .collect();
    elf_paths.sort();
    let embedded = embedded_in_venv(
        &elf_paths,
        staging_root,
        final_root,
        facts.embedded_libraries,
        facts.source_package,
    );
    for (path, libraries) in embedded {
        let Some(pointer) = relative(&path) else {
            continue;
        };
        for library in libraries {
            text.push_str(&format!(
                "# A wheel carries {library} inside this module, built with it; the package \
                 cannot use Debian's copy.\n{package}: embedded-library {library} [{pointer}]\n"
            ));
        }
    }
    text.push_str(OVERRIDES_END);
    text.push('\n');
    text
}

/// The tag of lintian's `binaries/prerequisites` check that an ELF file of a wheel draws, and why it
/// is inherent to it.
fn prerequisites_tag(file: &ElfFile) -> Option<(&'static str, &'static str)> {
    if !file.dynamic {
        return None;
    }
    if file.needed.is_empty() {
        return Some((
            "shared-library-lacks-prerequisites",
            "Built into a wheel with no library dependency of its own: the interpreter that loads \
             it provides everything it uses.",
        ));
    }
    let libc = file.needed.iter().any(|n| n.starts_with("libc.so."));
    // lintian's `m{/libc\b}`: a component starting with "libc" and no further word character.
    let path = file.path.as_os_str().as_encoded_bytes();
    let named_libc = path.windows(5).enumerate().any(|(at, w)| {
        w == b"/libc"
            && path
                .get(at + 5)
                .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
    });
    (!libc && !named_libc).then_some((
        "library-not-linked-against-libc",
        "A module of a wheel linked --as-needed: it calls no libc function itself, and the \
         interpreter that loads it links libc.",
    ))
}

/// Which kinds of script the venv holds, for the lintian overrides it needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct ScriptsFound {
    /// A script in `bin/` runs the venv's own python (console scripts).
    venv_python_in_bin: bool,
    /// A script under `lib/` names an interpreter lintian does not know (`python`, the venv's python).
    unusual_in_lib: bool,
    /// A file under `lib/` starts with `#!` and is not executable (modules of wheels, imported only).
    not_executable_in_lib: bool,
}

impl ScriptsFound {
    /// What the scripts among `entries` (the venv's, at `staging_root`) are, for a venv living at
    /// `final_root`: their `#!` lines as the inventory read them, no file read again.
    fn of(entries: &[Entry], staging_root: &Path, final_root: &Path) -> ScriptsFound {
        let venv_python = final_root.join("bin/python");
        let venv_python = venv_python.as_os_str().as_encoded_bytes();
        let (bin, lib) = (staging_root.join("bin"), staging_root.join("lib"));
        let mut found = ScriptsFound::default();
        for entry in entries {
            let Some(interpreter) = entry
                .shebang_line()
                .and_then(Shebang::parse)
                .and_then(|s| s.command())
            else {
                continue;
            };
            if entry.path.starts_with(&lib) {
                found.unusual_in_lib |= !is_usual_interpreter(interpreter);
                found.not_executable_in_lib |= !entry.is_executable();
            } else if entry.path.starts_with(&bin) {
                found.venv_python_in_bin |= interpreter.starts_with(venv_python);
            }
        }
        found
    }
}

/// Whether lintian knows `interpreter` as one a Debian system has (the shells, Debian's python3 and
/// perl); the venv's python, a bare `python` and the like are unusual to it. Python's names are
/// recognised by [`versioned_name`]: `python3` and `python3.X`, X digits.
fn is_usual_interpreter(interpreter: &[u8]) -> bool {
    let name = interpreter
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or(interpreter);
    let known_dir = !interpreter.contains(&b'/')
        || [&b"/bin/"[..], b"/usr/bin/"]
            .iter()
            .any(|dir| interpreter.strip_prefix(*dir) == Some(name));
    let python3 = matches!(
        versioned_name(name, b"python"),
        Some(NameVersion::Major | NameVersion::Minor(_))
    );
    let shells_and_perl = [&b"sh"[..], b"bash", b"dash", b"perl"].contains(&name);
    known_dir && (python3 || shells_and_perl)
}

/// Installs `overrides` (a block from [`venv_overrides`]), among the run's `outputs`, as the package's lintian overrides,
/// `<tmpdir>/usr/share/lintian/overrides/<package>`, in place of a block installed before and keeping
/// anything else in the file. dh_lintian, later in the sequence, replaces the file with
/// `debian/<package>.lintian-overrides` when that exists; the caller warns about it.
///
/// # Errors
/// When the file exists and cannot be read; the message names it.
pub fn install_overrides(outputs: &mut Outputs, package: &Package, overrides: &str) -> Result<()> {
    let path = package
        .tmpdir
        .join("usr/share/lintian/overrides")
        .join(&package.name);
    let existing = outputs.read(&path)?;
    let mut kept = String::new();
    let mut inside = false;
    for line in existing.lines() {
        if line.starts_with(OVERRIDES_START) {
            inside = true;
        } else if line == OVERRIDES_END {
            inside = false;
        } else if !inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    outputs.write(path, kept + overrides);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfKind;
    use crate::inventory::Inventory;
    use embedded::parse_embedded_libraries;
    use embedded::tests::TABLE_EXCERPT;
    use std::fs;

    fn elf(path: PathBuf, needed: &[&str]) -> ElfFile {
        ElfFile {
            path,
            kind: ElfKind::SharedObject,
            dynamic: true,
            machine: 62,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            search_paths: Vec::new(),
            foreign_search_paths: Vec::new(),
            soname: None,
            build_id: None,
            has_debug_info: false,
            has_symtab: true,
            patchelf_layout: false,
        }
    }

    #[test]
    fn tells_usual_interpreters_from_unusual_ones() {
        let of = |line: &[u8]| {
            Shebang::parse(line)
                .and_then(|s| s.command())
                .map(is_usual_interpreter)
        };
        assert_eq!(of(b"#!/bin/sh\nexec x"), Some(true));
        assert_eq!(of(b"#! /usr/bin/env python3\n"), Some(true));
        assert_eq!(of(b"#!/usr/bin/python3.11 -I\n"), Some(true));
        assert_eq!(of(b"#!/usr/bin/env python\n"), Some(false));
        assert_eq!(of(b"#!/opt/venvs/demo/bin/python\n"), Some(false));
        assert_eq!(of(b"#!python\n"), Some(false));
        assert_eq!(of(b"#!/usr/local/bin/python3\n"), Some(false));
        assert_eq!(of(b"import sys\n"), None);
    }

    #[test]
    fn overrides_name_only_what_the_venv_holds_and_replace_their_earlier_block() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("debian/demo/opt/venvs/demo");
        fs::create_dir_all(staging.join("bin")).unwrap();
        fs::create_dir_all(staging.join("lib/python3.11/site-packages")).unwrap();
        fs::write(staging.join("bin/demo"), "#!/opt/venvs/demo/bin/python\n").unwrap();
        let backup = staging.join("lib/backup.sh");
        fs::write(&backup, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&backup, fs::Permissions::from_mode(0o755)).unwrap();
        let final_root = Path::new("/opt/venvs/demo");
        let scanned = Inventory::scan(&staging).unwrap();
        let facts = VenvFacts {
            entries: &scanned.entries,
            ..VenvFacts::default()
        };
        let first = venv_overrides("demo", final_root, &staging, &facts);
        assert!(first.contains("demo: unusual-interpreter /opt/venvs/demo/bin/python*"));
        assert!(first.contains("dir-or-file-in-opt [opt/venvs/*]"));
        assert!(!first.contains("[opt/venvs/demo/lib/*]"), "{first}");

        fs::write(
            staging.join("lib/python3.11/site-packages/tool.py"),
            "#!/usr/bin/env python\n",
        )
        .unwrap();
        let scanned = Inventory::scan(&staging).unwrap();
        let facts = VenvFacts {
            entries: &scanned.entries,
            ..VenvFacts::default()
        };
        let second = venv_overrides("demo", final_root, &staging, &facts);
        assert!(second.contains("demo: unusual-interpreter * [opt/venvs/demo/lib/*]"));
        assert!(second.contains("demo: script-not-executable [opt/venvs/demo/lib/*]"));

        let package = Package {
            name: "demo".into(),
            tmpdir: dir.path().join("debian/demo"),
            source: "demo".into(),
            debian_dir: dir.path().join("debian"),
            automatic_dbgsym: false,
            main: true,
            config_file: None,
            relations: Default::default(),
        };
        let file = package.tmpdir.join("usr/share/lintian/overrides/demo");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, "demo: some-tag of the user's\n").unwrap();
        for overrides in [&first, &second] {
            let mut outputs = Outputs::new();
            install_overrides(&mut outputs, &package, overrides).unwrap();
            outputs.stage().unwrap().commit().unwrap();
        }
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            format!("demo: some-tag of the user's\n{second}")
        );
    }

    #[test]
    fn files_of_wheels_get_an_override_each_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("opt/venvs/demo");
        let site = staging.join("lib/python3.11/site-packages");
        fs::create_dir_all(&site).unwrap();
        let ext = site.join("pg/_ext.so");
        let bare = site.join("np.libs/libblas.so");
        let yaml = site.join("yaml/_yaml.so");
        let linked = site.join("ok/_ok.so");
        for file in [&ext, &bare, &yaml, &linked] {
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, "\x7fELF\0did not find expected <stream-start>\0").unwrap();
        }
        let mut with_runpath = elf(ext.clone(), &["libpq.so.5"]);
        with_runpath.foreign_search_paths = vec![
            ("RUNPATH", "/opt/placeholder".to_owned()),
            ("RPATH", "/opt/venvs/demo/lib".to_owned()),
        ];
        let mut stripped_by_its_wheel = elf(site.join("np.libs/libgfortran.so"), &["libc.so.6"]);
        stripped_by_its_wheel.has_symtab = false;
        let elf_files = [
            with_runpath,
            elf(bare.clone(), &[]),
            elf(linked, &["libc.so.6"]),
            stripped_by_its_wheel,
        ];
        let unstripped = [
            (bare.clone(), "stripping would break loading".to_owned()),
            (
                site.join("np.libs/libgfortran.so"),
                "stripping would break loading".to_owned(),
            ),
        ];
        let table = dir.path().join("embedded-libs");
        fs::write(
            &table,
            "# comment\nlibyaml   || ||(?m)^did not find expected <stream-start>\n\
             bad || || (?<unclosed\nzlib || libname=zlib1 || deflate 1\\.\n",
        )
        .unwrap();
        let table = embedded::embedded_libraries(&table).unwrap();
        assert_eq!(
            table
                .libraries
                .iter()
                .map(|l| l.libname.as_str())
                .collect::<Vec<_>>(),
            ["libyaml", "zlib1"]
        );
        assert_eq!(table.unreadable, ["bad"]);
        let embedded = table.libraries;
        let yaml_only = [elf(yaml, &["libc.so.6"])];
        let facts = VenvFacts {
            elf_files: &elf_files,
            unparsed_elf_files: &[],
            unstripped: &unstripped,
            embedded_libraries: &[],
            source_package: "demo",
            entries: &[],
        };
        let text = venv_overrides("demo", Path::new("/opt/venvs/demo"), &staging, &facts);
        let site = "opt/venvs/demo/lib/python3.11/site-packages";
        assert!(text.contains(&format!(
            "demo: library-not-linked-against-libc [{site}/pg/_ext.so]"
        )));
        assert!(text.contains(&format!(
            "demo: shared-library-lacks-prerequisites [{site}/np.libs/libblas.so]"
        )));
        assert!(text.contains(&format!(
            "# stripping would break loading\ndemo: unstripped-binary-or-object [{site}/np.libs/libblas.so]"
        )));
        assert!(!text.contains("_ok.so"), "{text}");
        assert!(!text.contains("libgfortran"), "{text}");
        assert!(text.contains(&format!(
            "demo: custom-library-search-path RUNPATH /opt/placeholder [{site}/pg/_ext.so]"
        )));
        assert!(!text.contains("RPATH /opt/venvs/demo/lib"), "{text}");
        let facts = VenvFacts {
            elf_files: &yaml_only,
            unparsed_elf_files: &[],
            unstripped: &[],
            embedded_libraries: &embedded,
            source_package: "demo",
            entries: &[],
        };
        let text = venv_overrides("demo", Path::new("/opt/venvs/demo"), &staging, &facts);
        assert!(
            text.contains(&format!(
                "demo: embedded-library libyaml [{site}/yaml/_yaml.so]"
            )),
            "{text}"
        );
        // Every per-file override stands under a comment.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("/_yaml.so]") {
                assert!(lines[i - 1].starts_with("# "), "{text}");
            }
        }
        let missing = embedded::embedded_libraries(Path::new("/nonexistent/table")).unwrap();
        assert!(missing.libraries.is_empty() && missing.unreadable.is_empty());
    }

    #[test]
    fn a_module_embedding_two_libraries_gets_both_overrides_outside_opt() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("debian/demo/usr/lib/demo");
        let lxml = staging.join("lib/python3.11/site-packages/lxml");
        fs::create_dir_all(&lxml).unwrap();
        let module = b"\x7fELF\x02\x01\x01\0\0\0\0\0\x03\0>\0\
            \0deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler \0\
            \x01root and DTD name do not match\0\xffinflate 1.2.13 Copyright\0";
        fs::write(lxml.join("etree.cpython-311-x86_64-linux-gnu.so"), module).unwrap();
        // Not ELF to file(1): not checked.
        fs::write(lxml.join("etree.pyx"), &module[8..]).unwrap();
        // A symbolic link is no file of the package to lintian's check.
        symlink(
            "etree.cpython-311-x86_64-linux-gnu.so",
            lxml.join("link.so"),
        )
        .unwrap();
        // Only the "4 " Pascal form of deflate: no zlib.
        fs::write(
            lxml.join("_pascal.so"),
            b"\x7fELF\x024 deflate 1.1.4 Copyright\0",
        )
        .unwrap();
        let table = parse_embedded_libraries(TABLE_EXCERPT);
        let final_root = Path::new("/usr/lib/demo");
        // The ELF files as the ELF stage finds them.
        let report =
            crate::elf::scan(&crate::inventory::Inventory::scan(&staging).unwrap()).unwrap();
        let unparsed: Vec<PathBuf> = report.unreadable.iter().map(|(p, _)| p.clone()).collect();
        let overrides = |source: &str| {
            let facts = VenvFacts {
                elf_files: &report.files,
                unparsed_elf_files: &unparsed,
                embedded_libraries: &table.libraries,
                source_package: source,
                ..VenvFacts::default()
            };
            venv_overrides("demo", final_root, &staging, &facts)
        };
        let text = overrides("demo");
        let pointer =
            "usr/lib/demo/lib/python3.11/site-packages/lxml/etree.cpython-311-x86_64-linux-gnu.so";
        let embedded: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("embedded-library"))
            .collect();
        assert_eq!(
            embedded,
            [
                format!("demo: embedded-library libxml2 [{pointer}]"),
                format!("demo: embedded-library zlib [{pointer}]"),
            ],
            "{text}"
        );
        assert!(!text.contains("dir-or-file-in-opt"), "{text}");
        // Lintian checks no library in packages of its own source.
        let text = overrides("zlib");
        assert!(text.contains("embedded-library libxml2"), "{text}");
        assert!(!text.contains("embedded-library zlib"), "{text}");
        // Files under usr/lib/debug have no strings to lintian.
        let debug = dir.path().join("debug");
        fs::create_dir_all(&debug).unwrap();
        fs::write(debug.join("x.debug"), module).unwrap();
        let found = embedded_in_venv(
            &[debug.join("x.debug").as_path()],
            &debug,
            Path::new("/usr/lib/debug/.build-id"),
            &table.libraries,
            "demo",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn lintian_overrides_follow_the_install_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::create_dir_all(dir.path().join("lib")).unwrap();
        fs::write(
            dir.path().join("bin/demo"),
            "#!/opt/venvs/demo/bin/python\n",
        )
        .unwrap();
        fs::write(dir.path().join("lib/mod.py"), "#!/usr/bin/env python\n").unwrap();
        let scanned = Inventory::scan(dir.path()).unwrap();
        let none = VenvFacts {
            entries: &scanned.entries,
            ..VenvFacts::default()
        };
        let opt = venv_overrides("demo", Path::new("/opt/venvs/demo"), dir.path(), &none);
        assert!(
            opt.contains("demo: dir-or-file-in-opt [opt/venvs/*]\n"),
            "{opt}"
        );
        assert!(
            opt.contains(
                "demo: unusual-interpreter /opt/venvs/demo/bin/python* [opt/venvs/demo/bin/*]\n"
            ),
            "{opt}"
        );
        let srv = venv_overrides("demo", Path::new("/srv/venvs/demo"), dir.path(), &none);
        assert!(!srv.contains("dir-or-file-in-opt"), "{srv}");
        assert!(
            srv.contains("demo: script-not-executable [srv/venvs/demo/lib/*]\n"),
            "{srv}"
        );
    }
}
