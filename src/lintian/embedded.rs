//! Lintian's table of embedded libraries, read and run as lintian's check `libraries/embedded` does.
//!
//! Takes `/usr/share/lintian/data/binaries/embedded-libs` ([`embedded_libraries`]) and the venv's
//! ELF files, and returns, per file, the libraries lintian 2.116 would report as embedded in it
//! ([`embedded_in_venv`]): the table's Perl patterns ([`PerlPattern`]) matched against the file's
//! `strings --all` output (`printable_strings`). It reads files and writes nothing; the overrides
//! themselves are written by [`crate::lintian`].

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// lintian's table of embedded libraries.
pub const EMBEDDED_LIBS: &str = "/usr/share/lintian/data/binaries/embedded-libs";

/// The printable runs of at least four bytes, each followed by a newline, as `strings --all` prints
/// them: GNU strings' default single-byte encoding, in which a byte is printable when it is a tab or
/// in 0x20..=0x7e. Lintian 2.116 (`Lintian::Index::Strings`) matches its table of embedded libraries
/// against exactly that output. Being ASCII, the text is UTF-8, as lintian decodes it.
fn printable_strings(bytes: &[u8]) -> String {
    let mut out = String::new();
    for run in bytes.split(|&b| !(b == b'\t' || (0x20..0x7f).contains(&b))) {
        if run.len() >= 4 {
            // Every byte of the run is ASCII.
            out.extend(run.iter().map(|&b| char::from(b)));
            out.push('\n');
        }
    }
    out
}

/// One entry of lintian's table of embedded libraries, read as lintian 2.116's check
/// `libraries/embedded` reads it (`Lintian::Check::Libraries::Embedded`).
#[derive(Debug, Clone)]
pub struct EmbeddedLibrary {
    /// The entry's key.
    pub label: String,
    /// The name the tag gives: the `libname=` option, else the key.
    pub libname: String,
    /// The source package the library is built from: `source=`, else the key. A non-empty value
    /// that equals the checked package's source name turns the entry off.
    pub source: Option<String>,
    /// `source-regex=`: a source package name it matches (anywhere in the name, as Perl's `=~`)
    /// turns the entry off.
    pub source_regex: Option<PerlPattern>,
    /// The pattern over the `strings --all` output of a file.
    pub pattern: PerlPattern,
}

impl EmbeddedLibrary {
    /// Whether lintian 2.116 checks files of the source package `source` for this library: not when
    /// `source` matches `source-regex`, nor when it is the entry's source.
    pub fn applies_to(&self, source: &str) -> bool {
        let by_regex = self
            .source_regex
            .as_ref()
            .is_some_and(|r| r.is_match(source));
        let by_name = self.source.as_deref() == Some(source);
        !(by_regex || by_name)
    }
}

/// A Perl regular expression of lintian's data, as the regex crate runs it. That crate has no
/// look-around; a pattern that starts (after its inline flag groups) with look-behinds of a literal,
/// such as zlib's `(?m)(?<!4 )(?:in|de)flate …`, is run as the rest of the pattern with each
/// look-behind tested at the start of every match candidate, which is what Perl does.
#[derive(Debug, Clone)]
pub struct PerlPattern {
    regex: regex::Regex,
    /// Look-behinds at the start: (negative, literal, case-insensitive).
    behind: Vec<(bool, String, bool)>,
}

impl PerlPattern {
    /// Reads `pattern`; None when it uses what the regex crate and the look-behinds above cannot
    /// express.
    pub fn new(pattern: &str) -> Option<PerlPattern> {
        let mut rest = pattern;
        let mut flags = String::new();
        let mut behind = Vec::new();
        loop {
            if let Some(group) = inline_flags(rest) {
                flags.push_str(&rest[..group]);
                rest = &rest[group..];
            } else if let Some((negative, literal, used)) = literal_lookbehind(rest) {
                // Under `x` white space and `#` in the look-behind would mean something else.
                let active = active_flags(&flags);
                if active.contains('x') && literal.contains(|c: char| c.is_whitespace() || c == '#')
                    || active.contains('i') && !literal.is_ascii()
                {
                    return None;
                }
                behind.push((negative, literal, active.contains('i')));
                rest = &rest[used..];
            } else {
                break;
            }
        }
        let regex = regex::Regex::new(&format!("{flags}{rest}")).ok()?;
        Some(PerlPattern { regex, behind })
    }

    /// Whether the pattern matches somewhere in `text`, as Perl's `$text =~ /pattern/`.
    pub fn is_match(&self, text: &str) -> bool {
        if self.behind.is_empty() {
            return self.regex.is_match(text);
        }
        let mut from = 0;
        while from <= text.len() {
            let Some(found) = self.regex.find_at(text, from) else {
                return false;
            };
            let before = &text[..found.start()];
            let holds = self.behind.iter().all(|(negative, literal, caseless)| {
                let ends = before.len() >= literal.len()
                    && before.is_char_boundary(before.len() - literal.len())
                    && {
                        let tail = &before[before.len() - literal.len()..];
                        if *caseless {
                            tail.eq_ignore_ascii_case(literal)
                        } else {
                            tail == literal
                        }
                    };
                ends != *negative
            });
            if holds {
                return true;
            }
            // The next candidate starts after this one's first character.
            from = found.start()
                + text[found.start()..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
        }
        false
    }
}

/// The length of an inline flag group `(?imsx-imsx)` at the start of `text`.
fn inline_flags(text: &str) -> Option<usize> {
    let inner = text.strip_prefix("(?")?;
    let end = inner.find(')')?;
    let body = &inner[..end];
    (!body.is_empty() && body.chars().all(|c| "imsx-".contains(c))).then_some(end + 3)
}

/// The flags that the inline groups `flags` leave on.
fn active_flags(flags: &str) -> String {
    let mut on = String::new();
    for group in flags.split("(?").filter(|g| !g.is_empty()) {
        let group = group.trim_end_matches(')');
        let (set, unset) = group.split_once('-').unwrap_or((group, ""));
        on.retain(|c| !unset.contains(c));
        on.extend(set.chars().filter(|&c| !on.contains(c)).collect::<Vec<_>>());
    }
    on
}

/// A look-behind of a literal at the start of `text`, `(?<!lit)` or `(?<=lit)`: whether it is
/// negative, the literal (escapes of punctuation resolved) and the length it takes in `text`.
fn literal_lookbehind(text: &str) -> Option<(bool, String, usize)> {
    let (negative, body) = if let Some(body) = text.strip_prefix("(?<!") {
        (true, body)
    } else {
        (false, text.strip_prefix("(?<=")?)
    };
    let mut literal = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            ')' => return Some((negative, literal, 4 + at + 1)),
            '\\' => match chars.next() {
                Some((_, e)) if e.is_ascii_punctuation() => literal.push(e),
                _ => return None,
            },
            c if "()[]{}.*+?|^$".contains(c) => return None,
            c => literal.push(c),
        }
    }
    None
}

/// What [`embedded_libraries`] reads from lintian's table.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedTable {
    /// The entries, in the table's order.
    pub libraries: Vec<EmbeddedLibrary>,
    /// The keys of entries whose pattern (or `source-regex`) cannot be run here: their tags are
    /// not overridden.
    pub unreadable: Vec<String>,
}

/// Reads lintian's table of embedded libraries as lintian 2.116 does (`Lintian::Data::JoinedLines`
/// with the separator `\s*+||`, then `Lintian::Check::Libraries::Embedded`):
/// - each line is trimmed at both ends; empty lines and lines starting with `#` are skipped;
///   `@delete KEY` removes an entry (other `@` directives, which only vendors' copies of the table
///   use, are skipped);
/// - the key is what comes before the first `||` (white space before it dropped); the rest is split
///   at its first `||` into the options and the pattern, which is taken as it is (a line with no
///   second `||` has an empty pattern, which matches every file);
/// - options are white-space separated `name=value` pairs: `libname`, `source`, `source-regex`
///   (lintian stops with an error at any other; here it is ignored);
/// - a key given again replaces the earlier entry, keeping its place.
///
/// A missing table reads as empty.
///
/// # Errors
/// When the file exists but cannot be read.
pub fn embedded_libraries(table: &Path) -> Result<EmbeddedTable> {
    let text = match fs::read(table) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(EmbeddedTable::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", table.display())),
    };
    Ok(parse_embedded_libraries(&text))
}

/// [`embedded_libraries`] on the table's text.
pub fn parse_embedded_libraries(text: &str) -> EmbeddedTable {
    // (key, Some(entry) or None when unreadable), in the order keys first appear.
    let mut entries: Vec<(String, Option<EmbeddedLibrary>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('@') {
            let mut words = directive.split_whitespace();
            if words.next() == Some("delete") {
                if let Some(key) = words.next() {
                    entries.retain(|(k, _)| k != key);
                }
            }
            continue;
        }
        let (key, details) = match line.split_once("||") {
            Some((key, details)) => (key.trim_end(), details),
            None => (line, ""),
        };
        let (pairs, pattern) = details.split_once("||").unwrap_or((details, ""));
        let mut libname = None;
        let mut source = None;
        let mut source_regex = None;
        for pair in pairs.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "libname" => libname = Some(value),
                "source" => source = Some(value),
                "source-regex" => source_regex = Some(value),
                _ => {}
            }
        }
        let source_regex = match source_regex.filter(|r| !r.is_empty()) {
            Some(r) => PerlPattern::new(r).map(Some),
            None => Some(None),
        };
        let entry = source_regex
            .zip(PerlPattern::new(pattern))
            .map(|(source_regex, pattern)| EmbeddedLibrary {
                label: key.to_owned(),
                libname: libname.unwrap_or(key).to_owned(),
                source: Some(source.unwrap_or(key))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                source_regex,
                pattern,
            });
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1 = entry,
            None => entries.push((key.to_owned(), entry)),
        }
    }
    let mut table = EmbeddedTable::default();
    for (key, entry) in entries {
        match entry {
            Some(library) => table.libraries.push(library),
            None => table.unreadable.push(key),
        }
    }
    table
}

/// The `embedded-library` tags lintian 2.116's check `libraries/embedded` issues for the venv at
/// `staging_root`, for a package of the source package `source`. `elf_files` are the files lintian
/// checks: the regular files (not symbolic links) that file(1) calls ELF (they start with
/// `\x7fELF`), as the ELF stage found them. Each of them outside `usr/lib/debug/` (for which
/// lintian collects no strings) is paired with the `libname` of every entry of `libraries` that
/// applies to `source` and whose pattern matches the file's `strings --all` output. Names are
/// deduplicated per file, in the table's order; files keep the order given. Files that cannot be
/// read are left out.
pub fn embedded_in_venv(
    elf_files: &[&Path],
    staging_root: &Path,
    final_root: &Path,
    libraries: &[EmbeddedLibrary],
    source: &str,
) -> Vec<(PathBuf, Vec<String>)> {
    let applying: Vec<&EmbeddedLibrary> =
        libraries.iter().filter(|l| l.applies_to(source)).collect();
    if applying.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for &path in elf_files {
        let shipped = path
            .strip_prefix(staging_root)
            .map(|inside| final_root.join(inside));
        if shipped.is_ok_and(|p| p.starts_with("/usr/lib/debug")) {
            continue;
        }
        let Ok(bytes) = fs::read(path) else {
            continue;
        };
        if !crate::tree::is_elf(&bytes) {
            continue;
        }
        let strings = printable_strings(&bytes);
        let mut names: Vec<String> = Vec::new();
        for library in &applying {
            if !names.contains(&library.libname) && library.pattern.is_match(&strings) {
                names.push(library.libname.clone());
            }
        }
        if !names.is_empty() {
            found.push((path.to_path_buf(), names));
        }
    }
    found
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Lines of lintian 2.116's `binaries/embedded-libs`, as that table has them.
    pub(crate) const TABLE_EXCERPT: &str = r#"# Manually maintained table of embedded libraries.
libgd     ||source-regex=libgd2? ||gd-(?:png|jpeg:) error:
libidn      || ||(?m)^(?:Punycode failed|ISCSIprep$)
libpcap   || ||(?:pcap_activate: The "any" device isn\'t supported|corrupted frame on kernel ring mac offset)
libxml2   || ||root and DTD name do not match
libyaml   || ||(?m)^did not find expected <stream-start>
ltdl      ||source=libtool ||(?m)^library already shutdown

# We exclude version strings starting with "4 " since that's a mark of the
# Pascal implementation, which is not what this tag is designed to detect.
zlib      ||source-regex=(?:zlib|klibc|kfreebsd-kernel-di\w+) ||(?m)(?<!4 )(?:in|de)flate (?:\d[ \w.\-]{1,20}[\w.\-])
"#;

    #[test]
    fn reads_every_entry_of_lintians_table_as_lintian_does() {
        let table = parse_embedded_libraries(TABLE_EXCERPT);
        assert!(table.unreadable.is_empty(), "{:?}", table.unreadable);
        let labels: Vec<&str> = table.libraries.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "libgd", "libidn", "libpcap", "libxml2", "libyaml", "ltdl", "zlib"
            ]
        );
        let find = |label: &str| table.libraries.iter().find(|l| l.label == label).unwrap();
        let zlib = find("zlib");
        assert_eq!(zlib.libname, "zlib");
        // source-regex matches anywhere in the name; the key stays the source too.
        for source in ["zlib", "klibc", "my-klibc-utils", "kfreebsd-kernel-dist"] {
            assert!(!zlib.applies_to(source), "{source}");
        }
        assert!(zlib.applies_to("demo"));
        assert!(!find("ltdl").applies_to("libtool"));
        assert!(find("ltdl").applies_to("ltdl-utils"));
        assert!(!find("libxml2").applies_to("libxml2"));
        assert!(
            find("libpcap")
                .pattern
                .is_match("pcap_activate: The \"any\" device isn't supported\n")
        );
        assert!(find("libidn").pattern.is_match("x\nISCSIprep\nmore\n"));

        // zlib's look-behind: "4 " before the word is Pascal's counted string, not zlib.
        let zlib = &zlib.pattern;
        assert!(
            zlib.is_match("deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler\n")
        );
        assert!(zlib.is_match(" inflate 1.3.1\n"));
        assert!(!zlib.is_match("4 deflate 1.2.3 Copyright\n"));
        assert!(!zlib.is_match("x14 inflate 1.1.4\n"));
        assert!(zlib.is_match("4 deflate 1.1.4\ninflate 1.1.4\n"));
        assert!(zlib.is_match("4 deflate 1.1.4 and deflate 1.1.4\n"));
        // strings(1) ends each string with a newline, which `[ \w.\-]` does not cross.
        assert!(!zlib.is_match("deflate 1\n.2\n"));
        assert_eq!(
            printable_strings(b"deflate 1\0.2.13\0ab\0\tabcd\x80xyz"),
            "deflate 1\n.2.13\n\tabcd\n"
        );
    }

    #[test]
    fn parses_malformed_tables_without_panicking() {
        let table = parse_embedded_libraries(
            "a || libname=one || x\n@delete a\nb||||\nc\nd || source-regex=( || y\n\
             e || || (?<!\ne || libname=two ||z\n@if-vendor-is ubuntu f || || q\n@delete\n|| || w",
        );
        let names: Vec<&str> = table.libraries.iter().map(|l| l.libname.as_str()).collect();
        // b and c have an empty pattern, which matches everything, as in Perl; the second e
        // replaces the first.
        assert_eq!(names, ["b", "c", "two", ""]);
        assert_eq!(table.unreadable, ["d"]);
        assert!(table.libraries[0].pattern.is_match("anything"));
        for pattern in [
            "(?<!",
            "(?<=a",
            "(?<!\\",
            "(?i)(?<!é)x",
            "(?x)(?<!a b)c",
            "(?",
        ] {
            assert!(PerlPattern::new(pattern).is_none(), "{pattern}");
        }
        let caseless = PerlPattern::new("(?i)(?<=ab\\.)c").unwrap();
        assert!(caseless.is_match("xAB.C"));
        assert!(!caseless.is_match("ab c"));
        assert!(PerlPattern::new("(?<!a)").unwrap().is_match(""));
    }
}
