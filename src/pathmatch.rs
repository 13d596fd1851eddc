//! One rule for finding a build path inside a file, shared by relocation and the audit.
//!
//! A path is found only where it stands as a whole path: the byte before it is not part of a file name
//! (so `/app` is not found in `/srv/webapp`, nor in `prepend/append`) unless it is a one-letter option
//! glued to it (`-I/app/include`), and the byte after it ends the name (so `/app` is not found in
//! `/applications`). Bytes that continue a name are ASCII letters and
//! digits and `-_.+~@%`; anything else (`/`, quotes, white space, `:`, `=`, NUL, …) is a boundary. The
//! rule does not depend on the path's length: a build in `/app`, `/src` or `/build` is matched as
//! precisely as one in a long directory. Matching works on bytes, so file content need not be UTF-8.

use anyhow::{Context, Result};
use regex::bytes::Regex;

/// Whether `byte` continues a file name (and so cannot stand next to a path that is found).
fn continues_name(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.+~@%".contains(&byte)
}

/// Whether a path may start at `at` in `text`: at the start, after a byte that does not continue a
/// name, or glued to a one-letter option as compilers and linkers take them (`-I/app/include`,
/// `-L/app/lib`).
fn may_start_path(text: &[u8], at: usize) -> bool {
    match at {
        0 => true,
        1 => !continues_name(text[0]),
        _ => {
            !continues_name(text[at - 1])
                || (text[at - 1].is_ascii_alphabetic()
                    && text[at - 2] == b'-'
                    && (at == 2 || !continues_name(text[at - 3])))
        }
    }
}

/// One occurrence of a path in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Byte offset where the path starts.
    pub start: usize,
    /// Byte offset just after it.
    pub end: usize,
    /// Which of the matcher's paths it is (index into [`PathMatcher::paths`]).
    pub path: usize,
}

/// Finds any of a set of absolute paths at path boundaries, and any of a set of path prefixes (such as
/// `/tmp/pip-build-env-`, followed by a random name) where they start a path.
#[derive(Debug, Clone)]
pub struct PathMatcher {
    /// The paths, longest first, so that the longest path starting at a place wins (the staging path
    /// `/app/debian/demo/opt/venvs/demo` before the source directory `/app`).
    paths: Vec<Vec<u8>>,
    /// Which entries of `paths` are prefixes, which need no boundary after them.
    prefixes: Vec<bool>,
    /// Finds the places where one of the paths starts (boundaries not checked); None without paths.
    candidates: Option<Regex>,
}

impl PathMatcher {
    /// A matcher for `paths`; empty paths and duplicates are dropped. The paths may hold any bytes.
    ///
    /// # Errors
    /// When the search pattern is too large for the regex engine (paths of megabytes).
    pub fn new(paths: impl IntoIterator<Item = Vec<u8>>) -> Result<PathMatcher> {
        PathMatcher::with_prefixes(paths, [])
    }

    /// A matcher for whole `paths` and for `prefixes`, which match where a path starts whatever
    /// follows them.
    ///
    /// # Errors
    /// As [`PathMatcher::new`].
    pub fn with_prefixes(
        paths: impl IntoIterator<Item = Vec<u8>>,
        prefixes: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<PathMatcher> {
        let mut entries: Vec<(Vec<u8>, bool)> = paths
            .into_iter()
            .map(|p| (p, false))
            .chain(prefixes.into_iter().map(|p| (p, true)))
            .filter(|(p, _)| !p.is_empty())
            .collect();
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        entries.dedup();
        let (paths, prefixes): (Vec<Vec<u8>>, Vec<bool>) = entries.into_iter().unzip();
        let candidates = if paths.is_empty() {
            None
        } else {
            let alternatives: Vec<String> = paths
                .iter()
                .map(|p| p.iter().map(|b| format!("\\x{b:02x}")).collect())
                .collect();
            let pattern = format!("(?-u:{})", alternatives.join("|"));
            Some(Regex::new(&pattern).context("building the path pattern")?)
        };
        Ok(PathMatcher {
            paths,
            prefixes,
            candidates,
        })
    }

    /// The paths, longest first.
    pub fn paths(&self) -> &[Vec<u8>] {
        &self.paths
    }

    /// Whether there is no path to look for.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The first occurrence at or after `from`, or None.
    pub fn find_from(&self, text: &[u8], from: usize) -> Option<Found> {
        let candidates = self.candidates.as_ref()?;
        let mut at = from;
        while at < text.len() {
            at = candidates.find_at(text, at)?.start();
            if may_start_path(text, at) {
                for (index, path) in self.paths.iter().enumerate() {
                    if text[at..].starts_with(path) {
                        let end = at + path.len();
                        let prefix = self.prefixes[index];
                        if prefix || text.get(end).is_none_or(|&b| !continues_name(b)) {
                            return Some(Found {
                                start: at,
                                end,
                                path: index,
                            });
                        }
                    }
                }
            }
            at += 1;
        }
        None
    }

    /// Every occurrence, left to right, none overlapping.
    pub fn find_all(&self, text: &[u8]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(hit) = self.find_from(text, at) {
            at = hit.end;
            found.push(hit);
        }
        found
    }

    /// `text` with every occurrence replaced by `to`; None when there is none.
    pub fn replace_all(&self, text: &[u8], to: &[u8]) -> Option<Vec<u8>> {
        let found = self.find_all(text);
        if found.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0;
        for hit in found {
            out.extend_from_slice(&text[copied..hit.start]);
            out.extend_from_slice(to);
            copied = hit.end;
        }
        out.extend_from_slice(&text[copied..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(paths: &[&str]) -> PathMatcher {
        PathMatcher::new(paths.iter().map(|p| p.as_bytes().to_vec())).unwrap()
    }

    fn found(m: &PathMatcher, text: &str) -> Vec<String> {
        m.find_all(text.as_bytes())
            .iter()
            .map(|f| text[f.start..f.end].to_owned())
            .collect()
    }

    #[test]
    fn a_short_build_directory_is_found_only_as_a_whole_path() {
        let m = matcher(&["/app"]);
        for clean in [
            "see /applications/example",
            "prepend/append",
            "/srv/webapp/x",
            "/app.d",
            "/app-data",
            "x/app",
            "~/app",
            "x-I/app",
            "https://example.com/app/",
        ] {
            assert!(found(&m, clean).is_empty(), "{clean}");
        }
        for leak in [
            "/app",
            "/app/src/x.py",
            "'/app'",
            "file:///app/x",
            "PATH=/app:/usr/bin",
            "\0/app\0",
            "\"/app/debian\"",
            "-I/app/include",
            "cc -L/app/lib",
        ] {
            assert_eq!(found(&m, leak), ["/app"], "{leak}");
        }
    }

    #[test]
    fn the_longest_path_at_a_place_wins_and_all_are_replaced() {
        let m = matcher(&["/app", "/app/debian/demo/opt/venvs/demo"]);
        let text = "#!/app/debian/demo/opt/venvs/demo/bin/python\n# from /app/src\n";
        assert_eq!(found(&m, text), ["/app/debian/demo/opt/venvs/demo", "/app"]);
        let one = matcher(&["/app/debian/demo/opt/venvs/demo"]);
        assert_eq!(
            one.replace_all(text.as_bytes(), b"/opt/venvs/demo")
                .as_deref(),
            Some(&b"#!/opt/venvs/demo/bin/python\n# from /app/src\n"[..])
        );
        assert_eq!(one.replace_all(b"nothing here", b"/x"), None);
    }

    #[test]
    fn a_prefix_matches_whatever_name_follows_it_but_only_where_a_path_starts() {
        let m = PathMatcher::with_prefixes([b"/build".to_vec()], [b"/tmp/pip-build-env-".to_vec()])
            .unwrap();
        let text = b"-I/tmp/pip-build-env-x1y2/overlay/include x/tmp/pip-build-env-z /builds";
        let found: Vec<&[u8]> = m
            .find_all(text)
            .iter()
            .map(|f| &text[f.start..f.end])
            .collect();
        assert_eq!(found, [&b"/tmp/pip-build-env-"[..]]);
    }

    #[test]
    fn empty_and_duplicate_paths_are_dropped() {
        let m = PathMatcher::new([Vec::new(), b"/a".to_vec(), b"/a".to_vec()]).unwrap();
        assert_eq!(m.paths(), [b"/a".to_vec()]);
        assert!(PathMatcher::new([Vec::new()]).unwrap().is_empty());
        assert_eq!(PathMatcher::new([]).unwrap().find_from(b"/a", 0), None);
        let raw = PathMatcher::new([b"/b\xff\n(x)".to_vec()]).unwrap();
        assert_eq!(raw.find_all(b"1 /b\xff\n(x) 2").len(), 1);
    }
}
