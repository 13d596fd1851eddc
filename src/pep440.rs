//! PEP 440 versions and version specifiers, as far as environment markers and lock files need them:
//! a version read into its parts and ordered as PEP 440 orders them, and one `<op><version>` clause
//! tested against a version.
//!
//! A leaf: runs nothing, writes nothing, uses nothing of the crate.
//!
//! # References
//! PEP 440 ("Version specifiers": public version scheme, normalization, the comparison operators);
//! the ordering is the one `packaging.version.Version` implements.

use std::cmp::Ordering;

/// A PEP 440 version: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spellings PEP 440
/// normalizes (`alpha`, `beta`, `c`, `pre`, `preview`, `-N` for a post-release, `_` and `-`
/// separators, a leading `v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The epoch (`1!` of `1!2.0`), 0 when there is none.
    pub epoch: u64,
    /// The release segments (`[3, 11, 2]`).
    pub release: Vec<u64>,
    /// The pre-release: 0 alpha, 1 beta, 2 release candidate, with its number.
    pub pre: Option<(u8, u64)>,
    /// The post-release number.
    pub post: Option<u64>,
    /// The development release number.
    pub dev: Option<u64>,
    /// The local version label (`ubuntu.1` of `1.0+ubuntu.1`), lowercase; empty when there is none.
    pub local: String,
}

impl Version {
    /// Reads a version; None when `text` is not a PEP 440 version.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix('v').unwrap_or(&text);
        let (public, local) = match text.split_once('+') {
            Some((public, local)) if !local.is_empty() => (public, local.replace(['-', '_'], ".")),
            Some(_) => return None,
            None => (text, String::new()),
        };
        let (epoch, rest) = match public.split_once('!') {
            Some((epoch, rest)) => (epoch.parse().ok()?, rest),
            None => (0, public),
        };
        let bytes = rest.as_bytes();
        let mut at = 0;
        let number = |at: &mut usize| -> Option<u64> {
            let start = *at;
            while *at < bytes.len() && bytes[*at].is_ascii_digit() {
                *at += 1;
            }
            rest[start..*at].parse().ok()
        };
        let mut release = vec![number(&mut at)?];
        while at + 1 < bytes.len() && bytes[at] == b'.' && bytes[at + 1].is_ascii_digit() {
            at += 1;
            release.push(number(&mut at)?);
        }
        let skip_separator = |at: &mut usize| {
            if *at < bytes.len() && matches!(bytes[*at], b'.' | b'-' | b'_') {
                *at += 1;
            }
        };
        let word = |at: &mut usize, words: &[&str]| -> bool {
            for w in words {
                if rest[*at..].starts_with(w) {
                    *at += w.len();
                    return true;
                }
            }
            false
        };
        let optional_number = |at: &mut usize| -> u64 {
            let mut probe = *at;
            skip_separator(&mut probe);
            if probe < bytes.len() && bytes[probe].is_ascii_digit() {
                *at = probe;
                number(at).unwrap_or(0)
            } else {
                0
            }
        };
        let mut version = Version {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local,
        };
        let mut probe = at;
        skip_separator(&mut probe);
        for (kind, words) in [
            (0u8, &["alpha", "a"][..]),
            (1, &["beta", "b"][..]),
            (2, &["rc", "c", "preview", "pre"][..]),
        ] {
            if word(&mut probe, words) {
                at = probe;
                version.pre = Some((kind, optional_number(&mut at)));
                break;
            }
        }
        let mut probe = at;
        if probe < bytes.len()
            && bytes[probe] == b'-'
            && bytes.get(probe + 1).is_some_and(u8::is_ascii_digit)
        {
            probe += 1;
            version.post = Some(number(&mut probe)?);
            at = probe;
        } else {
            skip_separator(&mut probe);
            if word(&mut probe, &["post", "rev", "r"]) {
                at = probe;
                version.post = Some(optional_number(&mut at));
            }
        }
        let mut probe = at;
        skip_separator(&mut probe);
        if word(&mut probe, &["dev"]) {
            at = probe;
            version.dev = Some(optional_number(&mut at));
        }
        (at == bytes.len()).then_some(version)
    }

    /// Whether this is a pre-release or a development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The release segments without trailing zeros: `1.0` and `1` are the same release.
    fn trimmed_release(&self) -> &[u64] {
        let end = self
            .release
            .iter()
            .rposition(|&n| n != 0)
            .map_or(0, |i| i + 1);
        &self.release[..end]
    }

    /// The key PEP 440 orders by, the local label left out: a development release of a final
    /// version comes before its pre-releases, a final version after them, a post-release after it.
    fn key(&self) -> OrderKey<'_> {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0),
            (None, _, _) => (3, 0),
            (Some((kind, n)), _, _) => (kind as i8, n),
        };
        let post = self.post.map_or((-1, 0), |n| (0, n));
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (self.epoch, self.trimmed_release(), pre, post, dev)
    }

    /// This version without its local label.
    fn public(&self) -> Version {
        Version {
            local: String::new(),
            ..self.clone()
        }
    }
}

/// What [`Version::key`] orders by: epoch, release, then the pre-, post- and development parts, each
/// a (place, number) pair.
type OrderKey<'a> = (u64, &'a [u64], (i8, u64), (i8, u64), (i8, u64));

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| compare_local(&self.local, &other.local))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Local labels: none before any; segment by segment, numbers after words, numbers by value.
fn compare_local(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    let segment = |s: &str| match s.parse::<u64>() {
        Ok(n) => (1, n, String::new()),
        Err(_) => (0, 0, s.to_owned()),
    };
    let a: Vec<_> = a.split('.').map(segment).collect();
    let b: Vec<_> = b.split('.').map(segment).collect();
    a.cmp(&b)
}

/// Whether `version` satisfies one specifier clause `operator` `spec` (`>=`, `~=`, `==` with an
/// optional `.*`, `===`, ...). None when the clause cannot be read.
///
/// # References
/// PEP 440, "Version specifiers": `<` excludes the pre-releases of the version named unless it is one
/// itself, `>` its post-releases; `==` ignores a local label the clause does not name; `~=V.N` is
/// `>=V.N, ==V.*`; `===` compares the strings.
pub fn satisfies(version: &str, operator: &str, spec: &str) -> Option<bool> {
    let spec = spec.trim();
    if operator == "===" {
        return Some(version.trim().eq_ignore_ascii_case(spec));
    }
    let candidate = Version::parse(version)?;
    if let Some(prefix) = spec.strip_suffix(".*") {
        let prefix = Version::parse(prefix)?;
        let matches = candidate.epoch == prefix.epoch && {
            let mut release = candidate.release.clone();
            release.resize(release.len().max(prefix.release.len()), 0);
            release[..prefix.release.len()] == prefix.release[..]
                && (prefix.pre.is_none() || candidate.pre == prefix.pre)
        };
        return match operator {
            "==" => Some(matches),
            "!=" => Some(!matches),
            _ => None,
        };
    }
    let spec = Version::parse(spec)?;
    let ordering = if spec.local.is_empty() {
        candidate.public().cmp(&spec)
    } else {
        candidate.cmp(&spec)
    };
    Some(match operator {
        "==" => ordering.is_eq(),
        "!=" => ordering.is_ne(),
        "<=" => ordering.is_le(),
        ">=" => ordering.is_ge(),
        "<" => {
            ordering.is_lt()
                && (spec.is_prerelease()
                    || !candidate.is_prerelease()
                    || candidate.trimmed_release() != spec.trimmed_release())
        }
        ">" => {
            ordering.is_gt()
                && (spec.post.is_some()
                    || candidate.post.is_none()
                    || candidate.trimmed_release() != spec.trimmed_release())
        }
        "~=" => {
            if spec.release.len() < 2 {
                return None;
            }
            let prefix = &spec.release[..spec.release.len() - 1];
            let mut release = candidate.release.clone();
            release.resize(release.len().max(prefix.len()), 0);
            ordering.is_ge() && release[..prefix.len()] == *prefix
        }
        _ => return None,
    })
}

/// Whether `version` satisfies every clause of the specifier set `specifiers` (`>=3.9, <4`; empty:
/// any version). None when a clause cannot be read.
pub fn satisfies_all(version: &str, specifiers: &str) -> Option<bool> {
    let mut all = true;
    for clause in specifiers
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let operator = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| clause.starts_with(op))?;
        all &= satisfies(version, operator, &clause[operator.len()..])?;
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} did not parse"))
    }

    #[test]
    fn versions_order_as_pep_440_orders_them() {
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev3",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local.2",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Ordering::Equal);
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0alpha2"), v("1.0a2"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(Version::parse("1.0-"), None);
        assert_eq!(Version::parse("one"), None);
    }

    #[test]
    fn specifier_clauses_follow_pep_440() {
        let t = |version: &str, op: &str, spec: &str| satisfies(version, op, spec).unwrap();
        assert!(t("3.11.2", "==", "3.11.*"));
        assert!(!t("3.1", "==", "3.11.*"));
        assert!(t("3.12", "!=", "3.11.*"));
        assert!(t("2.2", "~=", "2.1") && !t("3.0", "~=", "2.1"));
        assert!(t("1.4.9", "~=", "1.4.5") && !t("1.5", "~=", "1.4.5"));
        assert!(!t("1.0rc1", "<", "1.0") && t("0.9", "<", "1.0"));
        assert!(!t("1.0.post1", ">", "1.0") && t("1.1", ">", "1.0"));
        assert!(t("1.0+local", "==", "1.0") && !t("1.0+local", "==", "1.0+other"));
        assert!(t("1.0", "===", "1.0") && !t("1.0.0", "===", "1.0"));
        assert!(t("3.9", ">=", "3.9.0") && t("3.10", ">", "3.9"));
        assert_eq!(satisfies("1.0", "~=", "1"), None);
        assert_eq!(satisfies("x", "==", "1.0"), None);
        assert_eq!(satisfies_all("3.11.2", ">=3.9, <4"), Some(true));
        assert_eq!(satisfies_all("3.11.2", ">=3.12"), Some(false));
        assert_eq!(satisfies_all("3.11.2", ""), Some(true));
        assert_eq!(satisfies_all("3.11.2", "3.9"), None);
    }
}
