//! Archive normalization: what dh_strip_nondeterminism would do to the venv, done by the add-on.
//!
//! Takes the files relocation found to be possible archives
//! ([`crate::relocate::RelocationReport::archive_candidates`]) and runs File::StripNondeterminism
//! over them, with `SOURCE_DATE_EPOCH` as the canonical time, before `RECORD` is brought up to date
//! ([`crate::record`]). It writes only the files it is given, in place, once their hard links are
//! broken; it returns the files it handed to a normalizer.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// What `dh_strip_nondeterminism` would do to the venv, done before `RECORD` is updated: every file
/// that File::StripNondeterminism has a normalizer for (gzip, zip and jar files, ar archives, gettext
/// catalogues, among others) is normalized, with `SOURCE_DATE_EPOCH` as the canonical time. The add-on
/// keeps dh_strip_nondeterminism out of the venv, which would otherwise change those files after
/// RECORD recorded them. Only `files` are considered; names are handed to Perl separated by NUL, so a
/// name holding a newline is still one name. Each file's hard links are broken first
/// ([`crate::tree::unshare`]), as the normalizers rewrite files in place. Returns the files handed to
/// a normalizer (changed or not).
///
/// # Errors
/// When a file's hard links cannot be broken, perl or the module cannot be run, or a normalizer fails
/// on a file (the message names it).
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
        // The normalizers rewrite a file in place: a file hard-linked to one outside the venv (an
        // installer's cache, the source tree) would be rewritten there too.
        crate::tree::unshare(file)?;
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

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
    fn a_gzip_file_hard_linked_from_outside_is_normalized_inside_only() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        fs::create_dir(&venv).unwrap();
        let outside = dir.path().join("data.txt.gz");
        // A gzip member with a modification time and a file name, which the normalizer clears.
        let status = std::process::Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import gzip, sys\n\
                 with open(sys.argv[1], 'wb') as f:\n    \
                 with gzip.GzipFile('data.txt', 'wb', fileobj=f, mtime=1234567890) as z:\n        \
                 z.write(b'data')\n",
            ])
            .arg(&outside)
            .status()
            .unwrap();
        assert!(status.success());
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o640)).unwrap();
        let inside = venv.join("data.txt.gz");
        fs::hard_link(&outside, &inside).unwrap();
        let before = fs::read(&outside).unwrap();
        let reporter = crate::debhelper::Reporter::default();
        let normalized = strip_nondeterminism(std::slice::from_ref(&inside), &reporter).unwrap();
        assert_eq!(normalized, std::slice::from_ref(&inside));
        assert_eq!(
            fs::read(&outside).unwrap(),
            before,
            "normalized outside the venv"
        );
        assert_ne!(fs::read(&inside).unwrap(), before, "not normalized inside");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&outside), 0o640);
        assert_eq!(mode(&inside), 0o640);
    }
}
