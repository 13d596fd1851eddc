//! A leak: where a file's content names a path the package must not name.
//!
//! [`leak_in`] finds the first occurrence of a forbidden path (a [`PathMatcher`], found at path
//! boundaries) in a file's bytes, skipping the final path itself, and returns it as a [`Leak`] with
//! the text around it. Relocation audits each file with it as it leaves it, and the audit reads the
//! files changed after that with it; neither owns it, so it lives here, below both. Pure: it reads
//! and writes nothing.

use std::path::PathBuf;

use crate::pathmatch::PathMatcher;

/// One file of the venv that names a build path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The file or symlink, in the staging tree.
    pub file: PathBuf,
    /// The build path it names.
    pub path: String,
    /// The text around the first occurrence, with non-printable bytes shown as `.`.
    pub context: String,
}

/// The first occurrence of a `forbidden` path in `content` that is not the start of `final_root`, as
/// a [`Leak`] whose `file` is empty (the caller knows which file it read), with up to 30 bytes on
/// either side as its context; None when there is none.
pub fn leak_in(content: &[u8], forbidden: &PathMatcher, final_root: &[u8]) -> Option<Leak> {
    let mut at = 0;
    let found = loop {
        let found = forbidden.find_from(content, at)?;
        if !content[found.start..].starts_with(final_root) {
            break found;
        }
        at = found.start + 1;
    };
    let start = found.start.saturating_sub(30);
    let end = (found.end + 30).min(content.len());
    let context: String = content[start..end]
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    Some(Leak {
        file: PathBuf::new(),
        path: String::from_utf8_lossy(&content[found.start..found.end]).into_owned(),
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_forbidden_path_that_is_not_the_final_path_with_its_context() {
        let forbidden = PathMatcher::new([b"/opt".to_vec(), b"/build/src".to_vec()]).unwrap();
        let content = b"home=/opt/venvs/demo\0x=/build/src/debian/demo\n";
        let leak = leak_in(content, &forbidden, b"/opt/venvs/demo").unwrap();
        assert_eq!(leak.file, PathBuf::new());
        assert_eq!(leak.path, "/build/src");
        assert_eq!(
            leak.context,
            "home=/opt/venvs/demo.x=/build/src/debian/demo."
        );
        assert_eq!(
            leak_in(b"/opt/venvs/demo/bin", &forbidden, b"/opt/venvs/demo"),
            None
        );
        assert_eq!(leak_in(b"/build/srcs", &forbidden, b"/o"), None);
    }
}
