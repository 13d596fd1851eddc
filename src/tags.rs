//! Wheel tags: which wheels a CPython interpreter on a glibc platform installs, and in which order
//! of preference, and what a wheel's file name says of itself.
//!
//! Runs nothing and writes nothing.
//!
//! # References
//! PEP 425 (compatibility tags), PEP 427 (the wheel file name), PEP 600 (`manylinux_2_<minor>`), and
//! the order `packaging.tags.sys_tags()` gives a CPython interpreter.

use crate::wheelhouse::manylinux_platforms;

/// One compatibility tag: `cp311-cp311-manylinux_2_17_x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The Python tag: `cp311`, `py3`.
    pub python: String,
    /// The ABI tag: `cp311`, `abi3`, `none`.
    pub abi: String,
    /// The platform tag: `manylinux_2_17_x86_64`, `linux_x86_64`, `any`.
    pub platform: String,
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

fn tag(python: &str, abi: &str, platform: &str) -> Tag {
    Tag {
        python: python.to_owned(),
        abi: abi.to_owned(),
        platform: platform.to_owned(),
    }
}

/// The tags of wheels CPython 3.`minor` installs on `machine` (`x86_64`, `aarch64`) with glibc
/// 2.`glibc_minor` (None: no manylinux wheel runs), most preferred first, as `packaging.tags` orders
/// them: the interpreter's own ABI, then `abi3` of it and of every older 3.x, then `none`, each on
/// every platform from the newest manylinux down to `linux_<machine>`; then the pure-Python tags
/// (`py3X` and `py3`) on those platforms and finally on `any`.
pub fn compatible_tags(minor: u32, machine: &str, glibc_minor: Option<u32>) -> Vec<Tag> {
    let mut platforms = glibc_minor
        .map(|glibc| manylinux_platforms(glibc, machine))
        .unwrap_or_default();
    platforms.push(format!("linux_{machine}"));
    let cp = format!("cp3{minor}");
    let mut tags = Vec::new();
    for abi in [cp.as_str(), "abi3", "none"] {
        for platform in &platforms {
            tags.push(tag(&cp, abi, platform));
        }
    }
    for older in (2..minor).rev() {
        for platform in &platforms {
            tags.push(tag(&format!("cp3{older}"), "abi3", platform));
        }
    }
    let generic: Vec<String> = std::iter::once(format!("py3{minor}"))
        .chain(std::iter::once("py3".to_owned()))
        .chain((0..minor).rev().map(|older| format!("py3{older}")))
        .collect();
    for python in &generic {
        for platform in &platforms {
            tags.push(tag(python, "none", platform));
        }
    }
    tags.push(tag(&cp, "none", "any"));
    for python in &generic {
        tags.push(tag(python, "none", "any"));
    }
    tags
}

/// What a wheel's file name says: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each
/// tag part possibly a dotted set (`py2.py3`), expanded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    /// The distribution name as the file spells it (`markupsafe`, `Flask`).
    pub name: String,
    /// The version as the file spells it.
    pub version: String,
    /// Every tag the file claims.
    pub tags: Vec<Tag>,
}

impl WheelName {
    /// Reads a wheel's file name (PEP 427); None when `file_name` is not one.
    pub fn parse(file_name: &str) -> Option<WheelName> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let n = parts.len();
        let mut tags = Vec::new();
        for python in parts[n - 3].split('.') {
            for abi in parts[n - 2].split('.') {
                for platform in parts[n - 1].split('.') {
                    tags.push(tag(python, abi, platform));
                }
            }
        }
        Some(WheelName {
            name: parts[0].to_owned(),
            version: parts[1].to_owned(),
            tags,
        })
    }

    /// The place of the file's best tag in `supported` (lower is better); None when the wheel does not
    /// install there.
    pub fn rank(&self, supported: &[Tag]) -> Option<usize> {
        self.tags
            .iter()
            .filter_map(|t| supported.iter().position(|s| s == t))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interpreter_prefers_its_own_abi_then_abi3_then_pure_python() {
        let tags = compatible_tags(11, "x86_64", Some(36));
        let strings: Vec<String> = tags.iter().map(Tag::to_string).collect();
        let at = |t: &str| strings.iter().position(|s| s == t).unwrap();
        assert_eq!(strings[0], "cp311-cp311-manylinux_2_36_x86_64");
        assert!(at("cp311-cp311-manylinux2014_x86_64") < at("cp311-cp311-linux_x86_64"));
        assert!(at("cp311-cp311-linux_x86_64") < at("cp311-abi3-manylinux_2_36_x86_64"));
        assert!(at("cp311-abi3-linux_x86_64") < at("cp37-abi3-manylinux_2_17_x86_64"));
        assert!(at("cp37-abi3-manylinux_2_17_x86_64") < at("py3-none-any"));
        assert!(!strings.contains(&"cp311-cp311-manylinux_2_37_x86_64".to_owned()));
        assert!(!strings.iter().any(|s| s.contains("aarch64")));
        assert_eq!(strings.last().unwrap(), "py30-none-any");
    }

    #[test]
    fn a_platform_without_glibc_takes_only_linux_and_any() {
        let tags = compatible_tags(13, "aarch64", None);
        assert!(!tags.iter().any(|t| t.platform.starts_with("manylinux")));
        assert_eq!(tags[0].to_string(), "cp313-cp313-linux_aarch64");
    }

    #[test]
    fn wheel_names_expand_their_tag_sets_and_rank_against_the_interpreter() {
        let supported = compatible_tags(11, "x86_64", Some(36));
        let wheel = WheelName::parse(
            "markupsafe-3.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        )
        .unwrap();
        assert_eq!(wheel.name, "markupsafe");
        assert_eq!(wheel.tags.len(), 3);
        let pure = WheelName::parse("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert!(wheel.rank(&supported).unwrap() < pure.rank(&supported).unwrap());
        let arm =
            WheelName::parse("markupsafe-3.0.4-cp311-cp311-manylinux_2_17_aarch64.whl").unwrap();
        assert_eq!(arm.rank(&supported), None);
        let built = WheelName::parse("demo-1.0-1build-py3-none-any.whl").unwrap();
        assert_eq!(built.version, "1.0");
        assert_eq!(WheelName::parse("demo-1.0.tar.gz"), None);
        assert_eq!(WheelName::parse("demo-1.0-py3-none.whl"), None);
    }
}
