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
use std::path::Path;
use std::time::{Duration, Instant};

use dh_rustvenv::elf;
use dh_rustvenv::lintian::shebang_interpreter;
use dh_rustvenv::pathmatch::PathMatcher;
use dh_rustvenv::relocate::{
    Relocation, plain_shebang, rewrite_record, rewrite_text, venv_shebang,
};
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
            let relocation =
                Relocation::new(vec![whole], to).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let _ = rewrite_text(&text, &relocation);
            Ok(())
        },
    );
}

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_shebang_parsers() {
    let header = prop_oneof![
        Just(b"#!/bin/sh\n'''exec' ".to_vec()),
        Just(b"#!".to_vec()),
        Just(b"#! /usr/bin/env ".to_vec()),
        Just(Vec::new()),
    ];
    fuzz(
        "shebang parsers",
        (header, path_bytes(150), path_bytes(20)),
        |(header, body, final_root)| {
            let mut text = header;
            text.extend_from_slice(&body);
            let _ = shebang_interpreter(&text);
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
                prop_assert!(line < 127);
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

#[test]
#[ignore = "fuzzing: run with --ignored (see the module documentation)"]
fn fuzz_record_reading_and_writing() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    std::fs::create_dir_all(base.join("pkg")).unwrap();
    std::fs::write(base.join("pkg/mod.py"), "x = 1\n").unwrap();
    let field = prop_oneof![
        Just("pkg/mod.py".to_owned()),
        Just("sha256=abc".to_owned()),
        Just("\"a,b\"".to_owned()),
        Just(String::new()),
        "[a-z/.,\"\\r\\n ]{0,12}".prop_map(|s| s),
    ];
    let rows = proptest::collection::vec(proptest::collection::vec(field, 0..4), 0..8);
    fuzz("RECORD reading and writing", rows, |rows| {
        let text: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        let changed: BTreeSet<&Path> = BTreeSet::new();
        // Whatever the bytes, an answer and no panic; a rewritten RECORD reads back as CSV.
        if let Ok(Some(new)) = rewrite_record(text.as_bytes(), &base, &changed) {
            prop_assert!(rewrite_record(&new, &base, &changed).is_ok());
        }
        Ok(())
    });
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
        // Either a classification or an error; never a panic.
        let _ = elf::parse(&bytes, true);
        let _ = elf::check_load_segments(&bytes);
        Ok(())
    });
}
