//! The one reader of `#!` lines, and of Python's versioned program names.
//!
//! [`Shebang::parse`] takes a file's bytes and returns its `#!` line in parts: the interpreter the
//! kernel runs, for `/usr/bin/env` the program env runs (env's options and `NAME=value` assignments
//! read as env(1) reads them), the arguments, and the line ending. Relocation's rewriting
//! ([`venv_shebang`], [`plain_shebang`]) and lintian's interpreter check both read lines with it, so
//! they cannot disagree. [`versioned_name`] recognises `python`, `python3` and `python3.X` (and any
//! other stem, such as `pip`). Everything here is a pure function over bytes.

/// The longest shebang line (with `#!` and the newline) the kernel reads whole everywhere; pip and
/// distlib use the same limit before they fall back to the `/bin/sh` form.
///
/// # References
/// Linux `fs/binfmt_script.c`: the line is read into a buffer of `BINPRM_BUF_SIZE` (128) bytes, so
/// 127 bytes of it are the line; kernels before 5.0 silently cut a longer line there.
pub const MAX_SHEBANG: usize = 127;

/// The program env(1) is called as in a `#!` line.
const ENV: &[u8] = b"/usr/bin/env";

/// A file's `#!` line, in parts. Words are split at ASCII white space (space and tab, as the kernel
/// splits the interpreter from its argument; lintian splits at any white space, and a trailing `\r`
/// belongs to the line ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang<'a> {
    /// The line between `#!` and its ending, as it is (a trailing `\r` excluded).
    pub line: &'a [u8],
    /// The first word of the line: the program the kernel runs, e.g. `/usr/bin/python3` or
    /// `/usr/bin/env`. Never empty.
    pub interpreter: &'a [u8],
    /// When `interpreter` is `/usr/bin/env`: the words env reads before the program, as env(1) of GNU
    /// coreutils reads them: options (`-i`, `-0`, `-v`, `-u NAME`, `-C DIR`, their long forms, `-`,
    /// `--`), `NAME=value` assignments, and `-S`/`--split-string` (whose value is split into words
    /// and read on, so `-Spython3` is `-S` then `python3`). Empty otherwise.
    pub env_words: Vec<&'a [u8]>,
    /// When `interpreter` is `/usr/bin/env`: the program env runs, None when the line names none
    /// (`#!/usr/bin/env -S`). None for any other interpreter.
    pub program: Option<&'a [u8]>,
    /// The words after the program (for env) or after the interpreter.
    pub args: Vec<&'a [u8]>,
    /// The line ending: `\n`, `\r\n`, or empty when the text ends on the `#!` line.
    pub line_ending: &'a [u8],
    /// Everything after the line ending.
    pub body: &'a [u8],
}

impl<'a> Shebang<'a> {
    /// Reads the `#!` line at the start of `text`. None when `text` does not start with `#!` or the
    /// line holds no word.
    ///
    /// # Known limitations
    /// The value of env's `-S` is split at white space only: its quotes, `\` escapes and `${NAME}`
    /// are taken literally. Long options are recognised spelled out, not abbreviated.
    pub fn parse(text: &'a [u8]) -> Option<Shebang<'a>> {
        let after = text.strip_prefix(b"#!")?;
        let newline = after.iter().position(|&b| b == b'\n');
        let body_start = newline.map_or(after.len(), |at| at + 1);
        let mut line_end = newline.unwrap_or(after.len());
        if after[..line_end].ends_with(b"\r") {
            line_end -= 1;
        }
        let (line, line_ending, body) = (
            &after[..line_end],
            &after[line_end..body_start],
            &after[body_start..],
        );
        let mut words = line
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty());
        let interpreter = words.next()?;
        let mut shebang = Shebang {
            line,
            interpreter,
            env_words: Vec::new(),
            program: None,
            args: Vec::new(),
            line_ending,
            body,
        };
        if interpreter != ENV {
            shebang.args = words.collect();
            return Some(shebang);
        }
        let mut words: Vec<&[u8]> = words.collect();
        words.reverse();
        let mut options = true;
        while let Some(word) = words.pop() {
            if options && word == b"--" {
                options = false;
                shebang.env_words.push(word);
            } else if options && word.starts_with(b"--") {
                if let Some(value) = word.strip_prefix(b"--split-string=") {
                    // Kept as `-S`, so that the split-off value is not part of it.
                    shebang.env_words.push(b"-S");
                    if !value.is_empty() {
                        words.push(value);
                    }
                    continue;
                }
                shebang.env_words.push(word);
                if [&b"--unset"[..], b"--chdir"].contains(&word) {
                    shebang.env_words.extend(words.pop());
                }
            } else if options && word.starts_with(b"-") {
                // A cluster of short options: u and C take the rest of the word or the next one; S
                // takes the rest of the word as the first word of the split string.
                let mut kept = word;
                for (at, &option) in word.iter().enumerate().skip(1) {
                    let rest = &word[at + 1..];
                    match option {
                        b'u' | b'C' => {
                            if rest.is_empty() {
                                shebang.env_words.push(word);
                                shebang.env_words.extend(words.pop());
                                kept = b"";
                            }
                            break;
                        }
                        b'S' => {
                            if !rest.is_empty() {
                                words.push(rest);
                                kept = &word[..=at];
                            }
                            break;
                        }
                        _ => {}
                    }
                }
                if !kept.is_empty() {
                    shebang.env_words.push(kept);
                }
            } else if word.contains(&b'=') {
                options = false;
                shebang.env_words.push(word);
            } else {
                shebang.program = Some(word);
                words.reverse();
                shebang.args = words;
                break;
            }
        }
        Some(shebang)
    }

    /// Whether the line runs its program through `/usr/bin/env`.
    pub fn is_env(&self) -> bool {
        self.interpreter == ENV
    }

    /// The program that interprets the script: for env, the program env runs (None when there is
    /// none); otherwise the interpreter.
    pub fn command(&self) -> Option<&'a [u8]> {
        if self.is_env() {
            self.program
        } else {
            Some(self.interpreter)
        }
    }
}

/// How a program name carries a Python version after its stem (`python`, `pip`): see
/// [`versioned_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameVersion<'a> {
    /// The stem alone: `python`, `pip`.
    Unversioned,
    /// The major version: `python3`, `pip3`.
    Major,
    /// The major and minor version: `python3.11`, `pip3.11`; the minor's ASCII digits.
    Minor(&'a [u8]),
}

/// Whether `name` (a file name, without directory) is `stem`, `stem3` or `stem3.N` where N is one
/// or more ASCII digits: the names Python 3's interpreter (`python3.11`) and pip (`pip3.11`) are
/// installed under. None for anything else (`python2.7`, `python3.x`, `python3.11-config`).
///
/// # References
/// CPython's `make altinstall`/`install` (`python3.X`, `python3`), PEP 394 (`python`, `python3`);
/// pip's console scripts `pip`, `pip3` and `pip3.X`.
pub fn versioned_name<'a>(name: &'a [u8], stem: &[u8]) -> Option<NameVersion<'a>> {
    match name.strip_prefix(stem)? {
        b"" => Some(NameVersion::Unversioned),
        b"3" => Some(NameVersion::Major),
        version => {
            let minor = version.strip_prefix(b"3.")?;
            (!minor.is_empty() && minor.iter().all(u8::is_ascii_digit))
                .then_some(NameVersion::Minor(minor))
        }
    }
}

/// The directory part (through its last `/`, or empty) and the file name of a `#!` word.
fn split_dir(word: &[u8]) -> (&[u8], &[u8]) {
    match word.iter().rposition(|&b| b == b'/') {
        Some(at) => (&word[..=at], &word[at + 1..]),
        None => (&b""[..], word),
    }
}

/// An executable script's text with its `#!` line pointed at the venv's interpreter
/// (`<final_root>/bin/python`), when that line calls a generic Python 3 (`#!/usr/bin/env python3`,
/// `#!/usr/bin/python`, `#!python`, `#!/usr/local/bin/python3.11`): run as a program, it must see
/// the venv's packages, as dh_python3 points the scripts of Debian's Python packages at Debian's
/// python3. Arguments after the interpreter and the line ending are kept; env's own options and
/// assignments, when the line has any (`env -S python3 -u`, `env -i python3`), are kept in front
/// of the venv's interpreter, so the line still runs through env as it did. None when `text` has
/// no `#!` line, names another interpreter, or the new line (with its ending) would be longer than
/// [`MAX_SHEBANG`] bytes.
pub fn venv_shebang(text: &[u8], final_root: &[u8]) -> Option<Vec<u8>> {
    let shebang = Shebang::parse(text)?;
    let (dir, name) = split_dir(shebang.command()?);
    let generic_dir = [&b""[..], b"/bin/", b"/usr/bin/", b"/usr/local/bin/"].contains(&dir);
    let python = versioned_name(name, b"python").is_some();
    if !generic_dir || !python {
        return None;
    }
    let mut out = b"#!".to_vec();
    if !shebang.env_words.is_empty() {
        out.extend_from_slice(ENV);
        for word in &shebang.env_words {
            out.push(b' ');
            out.extend_from_slice(word);
        }
        out.push(b' ');
    }
    out.extend_from_slice(final_root);
    out.extend_from_slice(b"/bin/python");
    for word in &shebang.args {
        out.push(b' ');
        out.extend_from_slice(word);
    }
    if out.len() + shebang.line_ending.len().max(1) > MAX_SHEBANG {
        return None;
    }
    out.extend_from_slice(shebang.line_ending);
    out.extend_from_slice(shebang.body);
    Some(out)
}

/// Turns pip's `/bin/sh` + `'''exec'` script header into `#!<python>` when `<python>` lies in
/// `final_root`, has no space, and the line fits in [`MAX_SHEBANG`] bytes; None when the text is
/// not in that form. The form is exactly the one pip (distlib's `ScriptMaker`) writes when the
/// interpreter's path is too long for a `#!` line: `#!/bin/sh`, then `'''exec' <python> "$0" "$@"`
/// (the path quoted or not), then `' '''`.
pub fn plain_shebang(text: &[u8], final_root: &[u8]) -> Option<Vec<u8>> {
    let shebang = Shebang::parse(text)?;
    if shebang.line != b"/bin/sh" || shebang.line_ending != b"\n" {
        return None;
    }
    let rest = shebang.body.strip_prefix(b"'''exec' ")?;
    let line_end = rest.iter().position(|&b| b == b'\n')?;
    let exec_line = &rest[..line_end];
    let body = rest[line_end + 1..].strip_prefix(b"' '''\n")?;
    let python = exec_line.strip_suffix(b" \"$0\" \"$@\"")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &[u8]) -> Option<&[u8]> {
        Shebang::parse(text)?.command()
    }

    #[test]
    fn reads_the_interpreter_its_arguments_and_the_line_ending() {
        let shebang = Shebang::parse(b"#! /usr/bin/python3 -I -u\nimport x\n").unwrap();
        assert_eq!(shebang.interpreter, b"/usr/bin/python3");
        assert_eq!(shebang.args, [&b"-I"[..], b"-u"]);
        assert_eq!(shebang.line_ending, b"\n");
        assert_eq!(shebang.body, b"import x\n");
        assert_eq!(shebang.program, None);
        assert!(!shebang.is_env());

        let crlf = Shebang::parse(b"#!/usr/bin/env python3\r\nx\r\n").unwrap();
        assert_eq!(crlf.program, Some(&b"python3"[..]));
        assert_eq!(crlf.line, b"/usr/bin/env python3");
        assert_eq!(crlf.line_ending, b"\r\n");
        assert_eq!(crlf.body, b"x\r\n");

        let tabs = Shebang::parse(b"#!\t/usr/bin/perl\t-w\t").unwrap();
        assert_eq!(tabs.interpreter, b"/usr/bin/perl");
        assert_eq!(tabs.args, [&b"-w"[..]]);
        assert_eq!(tabs.line_ending, b"");
        assert_eq!(
            Shebang::parse(b"#!\r").map(|s| s.line_ending.to_vec()),
            None
        );
    }

    #[test]
    fn no_shebang_in_an_empty_file_or_a_line_without_a_word() {
        for text in [&b""[..], b"#", b"#!", b"#!  \t\n/bin/sh\n", b"import sys\n"] {
            assert_eq!(Shebang::parse(text), None, "{text:?}");
        }
        assert_eq!(venv_shebang(b"", b"/opt/venvs/demo"), None);
        assert_eq!(plain_shebang(b"", b"/opt/venvs/demo"), None);
    }

    #[test]
    fn reads_envs_options_and_assignments_as_env_does() {
        // The line, the program env runs, its arguments.
        type Case = (
            &'static [u8],
            Option<&'static [u8]>,
            &'static [&'static [u8]],
        );
        let cases: [Case; 12] = [
            (b"#!/usr/bin/env python3", Some(b"python3"), &[]),
            (b"#!/usr/bin/env -S python3 -u", Some(b"python3"), &[b"-u"]),
            (b"#!/usr/bin/env -Spython3 -u", Some(b"python3"), &[b"-u"]),
            (
                b"#!/usr/bin/env --split-string=python3",
                Some(b"python3"),
                &[],
            ),
            (b"#!/usr/bin/env -i python3", Some(b"python3"), &[]),
            (
                b"#!/usr/bin/env -u PYTHONPATH python3",
                Some(b"python3"),
                &[],
            ),
            (
                b"#!/usr/bin/env -iuPYTHONPATH python3",
                Some(b"python3"),
                &[],
            ),
            (
                b"#!/usr/bin/env --unset PYTHONPATH -C / perl -w",
                Some(b"perl"),
                &[b"-w"],
            ),
            (b"#!/usr/bin/env -S LC_ALL=C python3", Some(b"python3"), &[]),
            (
                b"#!/usr/bin/env - -- A=1 python3 -E",
                Some(b"python3"),
                &[b"-E"],
            ),
            (b"#!/usr/bin/env -S", None, &[]),
            (b"#!/usr/bin/env -u", None, &[]),
        ];
        for (text, program, args) in cases {
            let shebang = Shebang::parse(text).unwrap();
            assert!(shebang.is_env());
            assert_eq!(
                shebang.program,
                program,
                "{}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(shebang.args, args, "{}", String::from_utf8_lossy(text));
        }
        let env = Shebang::parse(b"#!/usr/bin/env -i -u X A=1 python3").unwrap();
        assert_eq!(env.env_words, [&b"-i"[..], b"-u", b"X", b"A=1"]);
        // The value of -S is split off: it is no part of env's words.
        let split = Shebang::parse(b"#!/usr/bin/env -iSpython3 -u").unwrap();
        assert_eq!(split.env_words, [&b"-iS"[..]]);
        let split = Shebang::parse(b"#!/usr/bin/env --split-string=python3 -u").unwrap();
        assert_eq!(split.env_words, [&b"-S"[..]]);
        assert_eq!(split.args, [&b"-u"[..]]);
        let unset = Shebang::parse(b"#!/usr/bin/env -uX -u").unwrap();
        assert_eq!(unset.env_words, [&b"-uX"[..], b"-u"]);
        assert_eq!(command(b"#!/usr/bin/env -u python3"), None);
    }

    #[test]
    fn recognises_pythons_versioned_names() {
        assert_eq!(
            versioned_name(b"python", b"python"),
            Some(NameVersion::Unversioned)
        );
        assert_eq!(
            versioned_name(b"python3", b"python"),
            Some(NameVersion::Major)
        );
        assert_eq!(
            versioned_name(b"python3.11", b"python"),
            Some(NameVersion::Minor(b"11"))
        );
        assert_eq!(
            versioned_name(b"pip3.13", b"pip"),
            Some(NameVersion::Minor(b"13"))
        );
        for name in [
            &b"python2.7"[..],
            b"python3.",
            b"python3.x",
            b"python3.11-config",
            b"pythonw",
            b"pip3",
        ] {
            assert_eq!(versioned_name(name, b"python"), None, "{name:?}");
        }
    }

    #[test]
    fn executable_scripts_calling_a_generic_python_get_the_venvs() {
        let venv = b"/opt/venvs/demo";
        let cases: [(&[u8], Option<&[u8]>); 15] = [
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
            // CRLF: the line ending is kept, and is no part of the name.
            (
                b"#!/usr/bin/python3\r\nx\r\n",
                Some(b"#!/opt/venvs/demo/bin/python\r\nx\r\n"),
            ),
            // env's options stay in front of the venv's interpreter.
            (
                b"#!/usr/bin/env -S python3 -u\n",
                Some(b"#!/usr/bin/env -S /opt/venvs/demo/bin/python -u\n"),
            ),
            (
                b"#!/usr/bin/env -i python3\n",
                Some(b"#!/usr/bin/env -i /opt/venvs/demo/bin/python\n"),
            ),
            (
                b"#!\t/usr/bin/python3\t-E\n",
                Some(b"#!/opt/venvs/demo/bin/python -E\n"),
            ),
            (
                b"#!/usr/bin/env -Spython3 -u\n",
                Some(b"#!/usr/bin/env -S /opt/venvs/demo/bin/python -u\n"),
            ),
            (b"#!/usr/bin/env -S\n", None),
            (b"#!/usr/bin/python3", Some(b"#!/opt/venvs/demo/bin/python")),
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
    fn a_rewritten_line_longer_than_the_kernels_limit_is_left_alone() {
        // "#!" + root + "/bin/python" + "\n" is exactly MAX_SHEBANG bytes: it fits.
        let fits = vec![b'/'; MAX_SHEBANG - 2 - b"/bin/python".len() - 1];
        let out = venv_shebang(b"#!/usr/bin/python3\n", &fits).unwrap();
        assert_eq!(out.len(), MAX_SHEBANG);
        // One byte more does not, nor does the same line with a CRLF ending.
        let longer = [&fits[..], b"/"].concat();
        assert_eq!(venv_shebang(b"#!/usr/bin/python3\n", &longer), None);
        assert_eq!(venv_shebang(b"#!/usr/bin/python3\r\n", &fits), None);
        let script = [
            &b"#!/bin/sh\n'''exec' "[..],
            &longer,
            b"/bin/python \"$0\" \"$@\"\n' '''\n",
        ]
        .concat();
        assert_eq!(plain_shebang(&script, &longer[..longer.len() - 1]), None);
        let script = [
            &b"#!/bin/sh\n'''exec' "[..],
            &fits,
            b"/bin/python \"$0\" \"$@\"\n' '''\nx\n",
        ]
        .concat();
        let plain = plain_shebang(&script, &fits[..fits.len() - 1]).unwrap();
        assert_eq!(plain, [&b"#!"[..], &fits, b"/bin/python\nx\n"].concat());
    }

    #[test]
    fn pips_sh_form_only_in_its_exact_shape() {
        let script =
            b"#!/bin/sh\n'''exec' \"/opt/venvs/demo/bin/python\" \"$0\" \"$@\"\n' '''\nx\n";
        assert_eq!(
            plain_shebang(script, b"/opt/venvs/demo").as_deref(),
            Some(&b"#!/opt/venvs/demo/bin/python\nx\n"[..])
        );
        assert_eq!(plain_shebang(script, b"/opt/venvs/other"), None);
        assert_eq!(
            plain_shebang(&script[..script.len() - 4], b"/opt/venvs/demo"),
            None
        );
        let crlf = b"#!/bin/sh\r\n'''exec' /opt/venvs/demo/bin/python \"$0\" \"$@\"\n' '''\n";
        assert_eq!(plain_shebang(crlf, b"/opt/venvs/demo"), None);
        let spaced = b"#! /bin/sh\n'''exec' /opt/venvs/demo/bin/python \"$0\" \"$@\"\n' '''\n";
        assert_eq!(plain_shebang(spaced, b"/opt/venvs/demo"), None);
    }
}
