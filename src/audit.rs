//! The last gate: nothing in the venv may name the build tree.
//!
//! Takes the relocated venv at `staging_root` and the paths that must not appear in it (the staging
//! path and the top of the source package, in every spelling) and scans files, text or binary, and
//! symlink targets for them. It returns the [`leak::Leak`]s it finds, in the order it was given the
//! files, and writes nothing; the caller fails the build on any leak unless told to allow them.
//! During a build, relocation reads every file once and audits it with [`leak::leak_in`] as it
//! leaves it; only the files changed after that (stripped, normalized, RECORDs, compiled bytecode)
//! are read again, by [`scan_files`]. [`upstream_build_paths`] and [`describe`] are the audit's own.
//! [`forbidden_paths`] says what must not appear; [`audit_venv`] is the stage as the pipeline runs
//! it: the leaks relocation found, updated with the files read again, fail the build or warn.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::debhelper::{Package, Reporter};
use crate::leak;
use crate::pathmatch::PathMatcher;

/// Scans the given files and symlinks (their targets) for the `forbidden` paths (found only at path
/// boundaries, [`PathMatcher`]), both cores at once; entries that no longer exist are skipped. An
/// occurrence that is the start of `final_root` (when the final path itself begins with a forbidden
/// path) does not count. The leaks keep the order of `paths`.
///
/// # Errors
/// When an entry cannot be read; the message names it.
pub fn scan_files(
    paths: &[PathBuf],
    forbidden: &PathMatcher,
    final_root: &[u8],
) -> Result<Vec<leak::Leak>> {
    use rayon::prelude::*;
    if forbidden.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<Result<Option<leak::Leak>>> = paths
        .par_iter()
        .map(|path| {
            let Ok(metadata) = fs::symlink_metadata(path) else {
                return Ok(None);
            };
            let content = if metadata.file_type().is_symlink() {
                fs::read_link(path)
                    .with_context(|| format!("reading the symlink {}", path.display()))?
                    .into_os_string()
                    .into_encoded_bytes()
            } else if metadata.is_file() {
                fs::read(path).with_context(|| format!("reading {}", path.display()))?
            } else {
                return Ok(None);
            };
            Ok(
                leak::leak_in(&content, forbidden, final_root).map(|found| leak::Leak {
                    file: path.clone(),
                    ..found
                }),
            )
        })
        .collect();
    let mut leaks = Vec::new();
    for leak in found {
        leaks.extend(leak?);
    }
    Ok(leaks)
}

/// The beginnings of the temporary directories pip builds in on any machine
/// (`/tmp/pip-req-build-<random>`, the unpacked sdist; `pip-build-env-`, the isolated build
/// environment; `pip-install-`, `pip-wheel-`, …, under `/tmp` or `/var/tmp`), as a matcher of path
/// prefixes. This build's pip works in a temporary directory of its own inside the source package
/// (the install stage's `TMPDIR`), so these paths, found in the venv, come from the machines upstream
/// built its wheels on (cibuildwheel and manylinux builds leave them in extension modules and
/// headers): upstream's content, installed byte for byte, which the audit reports and never fails on.
///
/// # Errors
/// Never in practice: the patterns are fixed and small.
pub fn upstream_build_paths() -> Result<PathMatcher> {
    let kinds = [
        "pip-build-env-",
        "pip-install-",
        "pip-req-build-",
        "pip-wheel-",
        "pip-ephem-wheel-cache-",
        "pip-unpack-",
        "pip-modern-metadata-",
        "pip-metadata-",
    ];
    let prefixes = ["/tmp/", "/var/tmp/"].iter().flat_map(|dir| {
        kinds
            .iter()
            .map(move |kind| format!("{dir}{kind}").into_bytes())
    });
    PathMatcher::with_prefixes([], prefixes)
}

/// The leaks as lines for an error or warning: `<file relative to the venv>: names <path>: …context…`,
/// at most `limit` of them and a count of the rest.
pub fn describe(leaks: &[leak::Leak], staging_root: &Path, limit: usize) -> String {
    let mut lines: Vec<String> = leaks
        .iter()
        .take(limit)
        .map(|l| {
            let shown = l.file.strip_prefix(staging_root).unwrap_or(&l.file);
            format!("  {}: names {}: …{}…", shown.display(), l.path, l.context)
        })
        .collect();
    if leaks.len() > limit {
        lines.push(format!("  and {} more", leaks.len() - limit));
    }
    lines.join("\n")
}

/// The paths no file of the venv may name: this build's, that is the staging path and the top of the
/// source package in every spelling. The temporary directories pip, uv and the build backends work
/// in are inside the source package (the install stage gives them a `TMPDIR` there), so they are
/// among them; a `/tmp/pip-*` path found in the venv is upstream's ([`upstream_build_paths`]).
///
/// # Errors
/// When they cannot be made into a pattern.
pub fn forbidden_paths(
    relocation: &crate::relocate::Relocation,
    top: &Path,
) -> Result<PathMatcher> {
    PathMatcher::new(
        relocation
            .staging
            .paths()
            .iter()
            .cloned()
            .chain(crate::layout::spellings(top)),
    )
}

/// The audit stage: fails when a file of the venv still names the staging path or the source package's
/// directory, unless leaks are allowed (then it warns). `leaks` are what relocation found as it read
/// each file; the files changed since (`reread`) are read again, and what they hold replaces that.
pub fn audit_venv(
    package: &Package,
    staging_root: &Path,
    (forbidden, final_root): (&PathMatcher, &[u8]),
    leaks: &[leak::Leak],
    reread: &std::collections::BTreeSet<PathBuf>,
    allow_leaks: bool,
    reporter: &Reporter,
) -> Result<()> {
    let started = std::time::Instant::now();
    let again: Vec<PathBuf> = reread.iter().cloned().collect();
    let mut leaks: Vec<leak::Leak> = leaks
        .iter()
        .filter(|l| !reread.contains(&l.file))
        .cloned()
        .collect();
    leaks.extend(scan_files(&again, forbidden, final_root)?);
    leaks.sort_by(|a, b| a.file.cmp(&b.file));
    reporter.verbose_print(format!(
        "# audit: {} leak(s), {} file(s) read again, in {} ms",
        leaks.len(),
        again.len(),
        started.elapsed().as_millis()
    ));
    if leaks.is_empty() {
        return Ok(());
    }
    let listing = describe(&leaks, staging_root, 20);
    let message = format!(
        "{} file(s) in the venv still name the build directory:\n{listing}",
        leaks.len()
    );
    if !allow_leaks {
        bail!("{message}\nfix the files above, or pass --allow-leaks to build the package anyway");
    }
    reporter.warning(format!("package {}: {message}", package.name));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::leak_in;

    #[test]
    fn finds_build_paths_in_text_binary_and_symlinks_but_not_the_final_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("clean.py"), "PATH = '/opt/venvs/demo/lib'\n").unwrap();
        fs::write(root.join("data.bin"), b"\0\x01/build/src/debian/demo\0").unwrap();
        std::os::unix::fs::symlink("/build/src/file", root.join("link")).unwrap();
        fs::write(root.join("docs.txt"), "see /build/srcs and x/build/src\n").unwrap();
        let forbidden = PathMatcher::new([b"/build/src".to_vec(), b"/opt".to_vec()]).unwrap();
        // In walk order, as the build hands them over; a file that is gone is skipped.
        let paths: Vec<PathBuf> = ["clean.py", "data.bin", "docs.txt", "gone.txt", "link"]
            .iter()
            .map(|name| root.join(name))
            .collect();
        let leaks = scan_files(&paths, &forbidden, b"/opt/venvs/demo").unwrap();
        let files: Vec<_> = leaks
            .iter()
            .map(|l| l.file.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(files, ["data.bin", "link"]);
        assert_eq!(leaks[0].path, "/build/src");
        assert!(
            leaks[0].context.contains("/build/src/debian/demo"),
            "{}",
            leaks[0].context
        );
        let text = describe(&leaks, root, 1);
        assert!(text.starts_with("  data.bin: names /build/src"), "{text}");
        assert!(text.ends_with("and 1 more"), "{text}");
    }

    #[test]
    fn upstream_build_paths_are_pips_temporary_directories_of_any_machine() {
        let upstream = upstream_build_paths().unwrap();
        let module = b"\0/tmp/pip-req-build-abc123/src/lxml/etree.c\0";
        let found = leak_in(module, &upstream, b"/opt/venvs/demo").unwrap();
        assert_eq!(found.path, "/tmp/pip-req-build-");
        assert!(leak_in(b"-I/var/tmp/pip-build-env-x1/include", &upstream, b"/o").is_some());
        // Other temporary files, and this build's own directories, are not upstream's.
        for text in [
            &b"/tmp/pipe"[..],
            b"/tmp/build",
            b"/build/src/debian/.debhelper/x",
        ] {
            assert!(leak_in(text, &upstream, b"/o").is_none(), "{text:?}");
        }
    }
}
