//! Property tests of the three readers: whatever a lock file holds (a valid lock cut short, bytes
//! replaced, arbitrary text), reading it gives packages or an error, never a panic.

use std::path::Path;

use proptest::prelude::*;

use super::{LockFormat, Target, poetry, pylock, uvlock};
use crate::markers::MarkerEnvironment;
use crate::tags::compatible_tags;

const PYLOCK: &str = r#"lock-version = "1.0"
extras = ["web"]
[[packages]]
name = "a"
version = "1.0"
marker = "'web' in extras and python_version >= '3.9'"
wheels = [{ url = "https://h/a-1.0-py3-none-any.whl", hashes = { sha256 = "0000000000000000000000000000000000000000000000000000000000000000" } }]
[[packages]]
name = "app"
directory = { path = "." }
"#;

const UVLOCK: &str = r#"version = 1
[[package]]
name = "app"
version = "1.0"
source = { editable = "." }
dependencies = [{ name = "a", marker = "sys_platform == 'linux'", extra = ["x"] }]
[package.optional-dependencies]
web = [{ name = "a" }]
[[package]]
name = "a"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://h/a-1.0.tar.gz", hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000" }
[package.optional-dependencies]
x = [{ name = "app" }]
"#;

const POETRY: &str = r#"[[package]]
name = "a"
version = "1.0"
optional = true
groups = ["main", "dev"]
markers = { main = "extra == \"web\"", dev = "python_version < \"4\"" }
files = [{file = "a-1.0.tar.gz", hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000"}]
[extras]
web = ["a (>=1)"]
[metadata]
lock-version = "2.1"
"#;

fn target() -> Target {
    let mut env = MarkerEnvironment::cpython((3, 11, 2), "x86_64");
    env.extras = vec!["web".into()];
    Target {
        env,
        tags: compatible_tags(11, "x86_64", Some(36)),
        groups_named: false,
    }
}

fn read(format: LockFormat, text: &str) {
    let base = Path::new("/src");
    let _ = match format {
        LockFormat::Pylock => pylock::read(text, &target(), base),
        LockFormat::Uv => uvlock::read(text, &target(), base, None),
        LockFormat::Poetry => poetry::read(text, &target()),
    };
}

#[test]
fn the_sample_locks_read() {
    assert_eq!(
        pylock::read(PYLOCK, &target(), Path::new("/src"))
            .unwrap()
            .packages
            .len(),
        1
    );
    assert_eq!(
        uvlock::read(UVLOCK, &target(), Path::new("/src"), None)
            .unwrap()
            .packages
            .len(),
        1
    );
    assert_eq!(poetry::read(POETRY, &target()).unwrap().packages.len(), 1);
}

proptest! {
    #[test]
    fn a_lock_cut_or_changed_anywhere_never_panics(cut in 0usize..600, at in 0usize..600, byte in 0u8..128) {
        for (format, text) in [(LockFormat::Pylock, PYLOCK), (LockFormat::Uv, UVLOCK), (LockFormat::Poetry, POETRY)] {
            let mut bytes = text.as_bytes().to_vec();
            bytes.truncate(cut.min(bytes.len()).max(at.min(bytes.len())));
            if at < bytes.len() {
                bytes[at] = byte;
            }
            read(format, &String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn any_text_never_panics(text in "\\PC{0,200}") {
        for format in [LockFormat::Pylock, LockFormat::Uv, LockFormat::Poetry] {
            read(format, &text);
        }
    }
}
