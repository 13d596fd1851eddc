//! Fuzzing of the code that reads what users and wheels bring: the path matcher and rewriter, the
//! shebang parsers, RECORD reading and writing, and the ELF classifier on corrupted ELF files.
//!
//! Property-based (proptest) rather than cargo-fuzz, which needs a nightly toolchain: the targets run
//! on the stable toolchain every developer and CI has, inputs are shrunk to a smallest failing case,
//! and each target also checks properties beyond "does not panic". They are ignored in the normal run;
//! run them with
//!
//! ```sh
//! DH_RUSTVENV_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --ignored --nocapture
//! ```
//!
//! Each target runs batches of generated cases until its time (DH_RUSTVENV_FUZZ_SECONDS, default 60)
//! is up, then prints how many cases it ran.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dh_rustvenv::elf;
use dh_rustvenv::pathmatch::PathMatcher;
use dh_rustvenv::record::rewrite_record;
use dh_rustvenv::relocate::{Relocation, rewrite_text};
use dh_rustvenv::shebang::{MAX_SHEBANG, Shebang, plain_shebang, venv_shebang};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Runs `test` on values of `strategy` until the fuzzing time is up; panics with the smallest failing
/// input. Returns how many cases ran.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let seconds = std::env::var("DH_RUSTVENV_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let batch = 20_000;
    let mut cases: u64 = 0;
    let started = Instant::now();
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config {
            cases: batch,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        cases += u64::from(batch);
    }
    eprintln!(
        "{name}: {cases} cases in {:.0} s, 0 failures",
        started.elapsed().as_secs_f64()
    );
}

/// Bytes that make paths and their boundaries: slashes, name bytes, separators, NUL, high bytes.
fn path_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'/'),
            Just(b'a'),
            Just(b'p'),
            Just(b'-'),
            Just(b'.'),
            Just(b' '),
            Just(b'\''),
            Just(b':'),
            Just(b'\n'),
            Just(0u8),
            Just(0xffu8),
            any::<u8>(),
        ],
        0..max,
    )
}

/// How pip starts a console script whose interpreter path does not fit in a `#!` line.
const PIP_HEADER: &[u8] = b"#!/bin/sh\n'''exec' ";

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_path_matcher_and_rewriter() {
    let input = (
        path_bytes(12),
        path_bytes(12),
        path_bytes(200),
        path_bytes(12),
    );
    fuzz(
        "path matcher and rewriter",
        input,
        |(path, prefix, text, to)| {
            let mut whole = b"/".to_vec();
            whole.extend_from_slice(&path);
            let mut start = b"/".to_vec();
            start.extend_from_slice(&prefix);
            let matcher = PathMatcher::with_prefixes([whole.clone()], [start.clone()])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let found = matcher.find_all(&text);
            let mut last_end = 0;
            for hit in &found {
                prop_assert!(hit.start >= last_end && hit.end <= text.len());
                let slice = &text[hit.start..hit.end];
                prop_assert!(slice == whole.as_slice() || slice == start.as_slice());
                last_end = hit.end;
            }
            // Replacing every occurrence by itself changes nothing.
            if let Some(same) = matcher.replace_all(&text, &whole) {
                if found.iter().all(|f| text[f.start..f.end] == whole[..]) {
                    prop_assert_eq!(same, text.clone());
                }
            } else {
                prop_assert!(found.is_empty());
            }
            // The rewriter changes a text exactly when it names the path; outside pip's script
            // header (which it may shorten) it replaces each occurrence with the final path.
            let whole_only = PathMatcher::new([whole.clone()])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let relocation = Relocation::new(vec![whole], to.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let rewritten = rewrite_text(&text, &relocation);
            prop_assert_eq!(rewritten.is_some(), !whole_only.find_all(&text).is_empty());
            let replaced = whole_only.replace_all(&text, &to);
            if replaced.as_ref().is_none_or(|r| !r.starts_with(PIP_HEADER)) {
                prop_assert_eq!(rewritten, replaced);
            }
            Ok(())
        },
    );
}

/// One piece of a generated text file: the staging path, the final path, or other bytes.
#[derive(Debug, Clone)]
enum Piece {
    Staging,
    Final,
    Other(Vec<u8>),
}

/// The build directory's components, the package name, pip's script header (interpreter under the
/// staging path?, quoted?) and the pieces, each with the byte that follows it.
type GeneratedText = (Vec<String>, String, Option<(bool, bool)>, Vec<(Piece, u8)>);

/// A text as a build leaves it, for a venv built in `/<build>/debian/<package>/opt/venvs/<package>`
/// and installed in `/opt/venvs/<package>`: the build directory's components, the package name,
/// optionally pip's `/bin/sh` script header (interpreter under the staging path or the final path,
/// quoted or not), and pieces each followed by a byte that ends a path.
///
/// No `d` occurs outside the `/debian/` of the staging path, so that path is in the text only where a
/// `Staging` piece put it.
fn build_text() -> impl Strategy<Value = GeneratedText> {
    let component = "[a-ce-np-z0-9][a-ce-np-z0-9._+-]{0,5}";
    let package = "[a-ce-z0-9][a-ce-z0-9.+-]{0,7}";
    let other = proptest::collection::vec(
        prop_oneof![
            Just(b'/'),
            Just(b' '),
            Just(b'-'),
            Just(b'I'),
            Just(b'p'),
            Just(b'x'),
            Just(b'.'),
            Just(b':'),
            Just(b'"'),
            Just(b'\''),
            Just(b'\n'),
            Just(0u8),
            Just(0xffu8),
        ],
        0..10,
    );
    let piece = prop_oneof![
        Just(Piece::Staging),
        Just(Piece::Final),
        other.prop_map(Piece::Other),
    ];
    let end = prop_oneof![
        Just(b' '),
        Just(b'/'),
        Just(b'\n'),
        Just(b'"'),
        Just(b'\''),
        Just(b':'),
        Just(b'='),
        Just(0u8),
    ];
    (
        proptest::collection::vec(component, 1..4),
        package,
        proptest::option::of((any::<bool>(), any::<bool>())),
        proptest::collection::vec((piece, end), 0..8),
    )
}

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_relocation_of_text_files() {
    fuzz(
        "relocation of text files",
        build_text(),
        |(build, package, header, pieces)| {
            let final_root = format!("/opt/venvs/{package}").into_bytes();
            let staging =
                format!("/{}/debian/{package}/opt/venvs/{package}", build.join("/")).into_bytes();
            let relocation = Relocation::new(vec![staging.clone()], final_root.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let render = |root: &[u8], at_staging: &[u8]| {
                let mut text = Vec::new();
                for (piece, end) in &pieces {
                    match piece {
                        Piece::Staging => text.extend_from_slice(at_staging),
                        Piece::Final => text.extend_from_slice(root),
                        Piece::Other(bytes) => text.extend_from_slice(bytes),
                    }
                    text.push(*end);
                }
                text
            };
            let mut text = Vec::new();
            let mut expected = Vec::new();
            if let Some((in_staging, quoted)) = header {
                let quote: &[u8] = if quoted { b"\"" } else { b"" };
                text.extend_from_slice(PIP_HEADER);
                text.extend_from_slice(quote);
                text.extend_from_slice(if in_staging { &staging } else { &final_root });
                text.extend_from_slice(b"/bin/python");
                text.extend_from_slice(quote);
                text.extend_from_slice(b" \"$0\" \"$@\"\n' '''\n");
                // The final interpreter's line fits: the header becomes a plain #! line.
                prop_assert!(2 + final_root.len() + b"/bin/python".len() < MAX_SHEBANG);
                expected.extend_from_slice(b"#!");
                expected.extend_from_slice(&final_root);
                expected.extend_from_slice(b"/bin/python\n");
            }
            text.extend_from_slice(&render(&final_root, &staging));
            expected.extend_from_slice(&render(&final_root, &final_root));
            let names_staging = header.is_some_and(|(in_staging, _)| in_staging)
                || pieces.iter().any(|(p, _)| matches!(p, Piece::Staging));

            let rewritten = rewrite_text(&text, &relocation);
            if names_staging {
                let rewritten = rewritten.expect("a text naming the staging path is rewritten");
                prop_assert_eq!(
                    String::from_utf8_lossy(&rewritten),
                    String::from_utf8_lossy(&expected)
                );
                prop_assert!(relocation.staging.find_all(&rewritten).is_empty());
                // Relocated once, relocated for good.
                prop_assert_eq!(rewrite_text(&rewritten, &relocation), None);
            } else {
                prop_assert_eq!(rewritten, None);
            }
            Ok(())
        },
    );
}

/// The program a `#!` line runs (for `/usr/bin/env`, the program env runs), as lintian's check reads
/// it.
fn shebang_interpreter(text: &[u8]) -> Option<Vec<u8>> {
    Shebang::parse(text)?.command().map(<[u8]>::to_vec)
}

/// ASCII white space as the shebang parser splits words on it.
fn blanks(min: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], min..4)
}

/// A word of a `#!` line: no white space, not an option, not an assignment (which env would skip).
fn word() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no white space, no =", |b| {
            !b.is_ascii_whitespace() && *b != b'='
        }),
        1..20,
    )
    .prop_filter("not an option, not env", |w| {
        w[0] != b'-' && w.as_slice() != b"/usr/bin/env"
    })
}

/// What env(1) reads before the program, as one or two words: clusters of short options without an
/// argument (`-S` last: the rest of its word would be split off as a word of its own), `-`, the
/// options that take an argument in both their spellings, `--`, and `NAME=value` assignments.
fn env_option() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "-[abcdefghijklmnopqrstvwxyz0]{0,3}S?".prop_map(String::into_bytes),
        Just(b"-u NAME".to_vec()),
        Just(b"-uNAME".to_vec()),
        Just(b"-iu\tNAME".to_vec()),
        Just(b"--unset=NAME".to_vec()),
        Just(b"--unset NAME".to_vec()),
        Just(b"-C /tmp".to_vec()),
        Just(b"--chdir=/".to_vec()),
        Just(b"--ignore-environment".to_vec()),
        Just(b"--split-string".to_vec()),
        Just(b"NAME=value".to_vec()),
    ]
}

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_shebang_parsers() {
    let header = prop_oneof![
        Just(PIP_HEADER.to_vec()),
        Just(b"#!".to_vec()),
        Just(b"#! /usr/bin/env ".to_vec()),
        Just(Vec::new()),
    ];
    // A `#!` line built from its parts: the interpreter, directly or through env and its options,
    // arguments, and the rest of the file.
    let line = (
        blanks(0),
        proptest::option::of(proptest::collection::vec((blanks(1), env_option()), 0..3)),
        blanks(0),
        word(),
        proptest::collection::vec((blanks(1), path_bytes(8)), 0..3),
        blanks(0),
        proptest::option::of(path_bytes(40)),
    );
    fuzz(
        "shebang parsers",
        (header, path_bytes(150), path_bytes(20), line),
        |(header, body, final_root, (lead, env, gap, interpreter, args, trail, rest))| {
            let mut text = header;
            text.extend_from_slice(&body);

            // On any bytes: no interpreter without `#!`, and one is a word of the first line.
            let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
            match shebang_interpreter(&text) {
                None => {}
                Some(found) => {
                    prop_assert!(text.starts_with(b"#!"));
                    prop_assert!(!found.is_empty());
                    prop_assert!(!found.iter().any(u8::is_ascii_whitespace));
                    prop_assert!(first_line.windows(found.len()).any(|w| w == found));
                }
            }
            if !text.starts_with(b"#!") {
                prop_assert_eq!(shebang_interpreter(&text), None);
            }
            // The parts put back together are the text.
            if let Some(shebang) = Shebang::parse(&text) {
                let whole = [b"#!", shebang.line, shebang.line_ending, shebang.body].concat();
                prop_assert_eq!(whole, text.clone());
                prop_assert!(!shebang.interpreter.is_empty());
                prop_assert!(!shebang.line.ends_with(b"\r"));
                prop_assert!([&b""[..], b"\n", b"\r\n", b"\r"].contains(&shebang.line_ending));
            }

            // On a line built from its parts: the interpreter it was built with.
            let mut built = b"#!".to_vec();
            built.extend_from_slice(&lead);
            if let Some(options) = &env {
                built.extend_from_slice(b"/usr/bin/env");
                // Options first, then assignments, as env(1) reads them.
                let is_option = |(_, option): &&(Vec<u8>, Vec<u8>)| option.starts_with(b"-");
                let assignments = options.iter().filter(|o| !is_option(o));
                for (blank, option) in options.iter().filter(is_option).chain(assignments) {
                    built.extend_from_slice(blank);
                    built.extend_from_slice(option);
                }
                built.push(b' ');
            }
            built.extend_from_slice(&gap);
            built.extend_from_slice(&interpreter);
            for (blank, arg) in &args {
                built.extend_from_slice(blank);
                built.extend_from_slice(arg);
            }
            built.extend_from_slice(&trail);
            if let Some(rest) = &rest {
                built.push(b'\n');
                built.extend_from_slice(rest);
            }
            prop_assert_eq!(shebang_interpreter(&built), Some(interpreter.clone()));
            // A `#!` line with no word, or env with options only, names no interpreter.
            let mut empty = b"#!".to_vec();
            empty.extend_from_slice(&lead);
            if env.is_some() {
                empty.extend_from_slice(b"/usr/bin/env -S");
            }
            empty.extend_from_slice(&trail);
            empty.push(b'\n');
            empty.extend_from_slice(&interpreter);
            prop_assert_eq!(shebang_interpreter(&empty), None);

            let fixed = text
                .starts_with(b"#!")
                .then(|| venv_shebang(&text, &final_root))
                .flatten();
            if let Some(fixed) = fixed {
                prop_assert!(fixed.starts_with(b"#!"));
                let line = fixed
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(fixed.len());
                prop_assert!(line < MAX_SHEBANG);
                // Where the final path reads as one word of a `#!` line (no white space, no `=`, not an
                // option), only the interpreter changes: env runs the venv's python with the options
                // it had, and the arguments, the line ending and the rest of the file are kept.
                let one_word = final_root.first().is_none_or(|&b| b == b'/')
                    && !final_root
                        .iter()
                        .any(|b| b.is_ascii_whitespace() || *b == b'=');
                if one_word {
                    let before = Shebang::parse(&text).expect("a line was rewritten");
                    let after = Shebang::parse(&fixed).expect("the new line is a shebang");
                    let mut python = final_root.clone();
                    python.extend_from_slice(b"/bin/python");
                    prop_assert_eq!(after.command(), Some(python.as_slice()));
                    prop_assert_eq!(&after.env_words, &before.env_words);
                    prop_assert_eq!(&after.args, &before.args);
                    prop_assert_eq!(after.line_ending, before.line_ending);
                    prop_assert_eq!(after.body, before.body);
                }
            }
            if let Some(plain) = plain_shebang(&text, &final_root) {
                let mut expected = b"#!".to_vec();
                expected.extend_from_slice(&final_root);
                prop_assert!(plain.starts_with(&expected));
                prop_assert!(plain.len() < text.len());
            }
            Ok(())
        },
    );
}

/// The rows of a RECORD as CSV reads them (the generated ones are ASCII).
fn csv_rows(text: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text)
        .byte_records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|field| String::from_utf8_lossy(field).into_owned())
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_record_reading_and_writing() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    std::fs::create_dir_all(base.join("pkg")).unwrap();
    // mod.py was rewritten by relocation; other.py was not; gone.py was removed.
    std::fs::write(base.join("pkg/mod.py"), "x = 1\n").unwrap();
    std::fs::write(base.join("pkg/other.py"), "y = 2\n").unwrap();
    let rewritten = base.join("pkg/mod.py");
    let new_hash = format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"x = 1\n"))
    );
    let name = prop_oneof![
        Just("pkg/mod.py".to_owned()),
        Just("./pkg/mod.py".to_owned()),
        Just("pkg/other.py".to_owned()),
        Just("pkg/gone.py".to_owned()),
        "[a-z/.\" ,]{0,12}".prop_map(|s| s),
    ];
    let hash = prop_oneof![
        Just("sha256=abc".to_owned()),
        Just(String::new()),
        "[a-z=,\" ]{0,12}".prop_map(|s| s),
    ];
    let size = prop_oneof![
        Just("6".to_owned()),
        Just(String::new()),
        "[0-9a-z,\" ]{0,4}".prop_map(|s| s),
    ];
    // Rows of three fields, as every RECORD has (path, hash, size), each field quoted as CSV quotes
    // it; sometimes a last row whose quote is never closed.
    let row = (name, hash, size);
    let rows = (
        proptest::collection::vec(row, 0..8),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of("[a-z/. ,]{0,8}"),
    );
    /// A field as a CSV writer writes it: quoted, quotes doubled, when it holds a comma or a quote.
    fn quoted(field: &str) -> String {
        if field.contains([',', '"']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    }
    /// What the strict reader must say of `row`, if anything.
    fn problem((name, hash, size): &(String, String, String)) -> Option<&'static str> {
        if name.is_empty() {
            Some("a row with no path")
        } else if !hash.is_empty() && !hash[1..].contains('=') {
            Some("is not algorithm=digest")
        } else if !size.bytes().all(|b| b.is_ascii_digit()) {
            Some("is not a number")
        } else {
            None
        }
    }
    fuzz(
        "RECORD reading and writing",
        rows,
        |(rows, mod_changed, crlf, open_quote)| {
            let newline = if crlf { "\r\n" } else { "\n" };
            let mut text: String = rows
                .iter()
                .map(|(name, hash, size)| {
                    format!(
                        "{},{},{}{newline}",
                        quoted(name),
                        quoted(hash),
                        quoted(size)
                    )
                })
                .collect();
            if let Some(open) = &open_quote {
                text.push_str(&format!("\"{open},sha256=x,1{newline}"));
            }
            let changed: BTreeSet<&Path> = if mod_changed {
                BTreeSet::from([rewritten.as_path()])
            } else {
                BTreeSet::new()
            };
            // Any text is read or refused with the row at fault; never a panic, never a row lost.
            let new = rewrite_record(text.as_bytes(), &base, &changed);
            let expected_error = match open_quote {
                Some(_) => Some((rows.len() + 1, "a quote that is never closed")),
                None => rows
                    .iter()
                    .enumerate()
                    .find_map(|(i, row)| problem(row).map(|p| (i + 1, p))),
            };
            if let Some((row, problem)) = expected_error {
                let error = match new {
                    Ok(_) => return Err(TestCaseError::fail("a malformed RECORD was read")),
                    Err(e) => e.to_string(),
                };
                prop_assert!(
                    error.starts_with(&format!("row {row}: ")) && error.contains(problem),
                    "{error}"
                );
                return Ok(());
            }
            let new = new.map_err(|e| TestCaseError::fail(e.to_string()))?;
            // What a user checks: rows of files that are gone are dropped, rows of rewritten files
            // with a hash get the file's hash and size, every other row is kept as it was, in order.
            let file_of =
                |row: &[String]| -> PathBuf { dh_rustvenv::tree::normalize(&base.join(&row[0])) };
            let mut expected = Vec::new();
            for row in csv_rows(text.as_bytes()) {
                let file = file_of(&row);
                if std::fs::symlink_metadata(&file).is_err() {
                    continue;
                }
                if !row[1].is_empty() && changed.contains(file.as_path()) {
                    expected.push(vec![row[0].clone(), new_hash.clone(), "6".to_owned()]);
                } else {
                    expected.push(row);
                }
            }
            let input = csv_rows(text.as_bytes());
            match new {
                None => prop_assert_eq!(&input, &expected, "a change was not written"),
                Some(new) => {
                    prop_assert_ne!(&input, &expected, "the RECORD changed for nothing");
                    let kept_rows = !expected.is_empty();
                    prop_assert_eq!(csv_rows(&new), expected);
                    if kept_rows {
                        prop_assert_eq!(
                            new.windows(2).any(|w| w == b"\r\n"),
                            crlf,
                            "the line ending changed"
                        );
                    }
                    // Brought up to date, it stays as it is.
                    let again = rewrite_record(&new, &base, &changed)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert!(again.is_none() || again == Some(new.clone()));
                }
            }
            Ok(())
        },
    );
}

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_elf_classifier_on_corrupted_elf_files() {
    // A small, real executable: coreutils' true (the test binary itself when it is missing).
    let original = std::fs::read("/usr/bin/true")
        .unwrap_or_else(|_| std::fs::read(std::env::current_exe().unwrap()).unwrap());
    let header_len = 4096.min(original.len());
    let mutation = (
        proptest::collection::vec((0..header_len, any::<u8>()), 1..16),
        0..original.len(),
        any::<bool>(),
    );
    fuzz("ELF classifier", mutation, |(changes, cut, truncate)| {
        let mut bytes = original.clone();
        for (at, value) in changes {
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut);
        }
        // Either a classification or an error that says what is wrong; never a panic.
        let parsed = elf::parse(&bytes, true);
        let segments = elf::check_load_segments(&bytes);
        match &parsed {
            Ok(file) => prop_assert!(file.path.as_os_str().is_empty()),
            Err(e) => prop_assert!(!e.is_empty()),
        }
        if let Err(e) = &segments {
            prop_assert!(!e.is_empty());
            // Both read the bytes with the same parser: what it rejects, both reject.
            if e.starts_with("the stripped file does not parse") {
                prop_assert!(parsed.is_err());
            }
        }
        Ok(())
    });
}
