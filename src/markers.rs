//! PEP 508 environment markers for the target interpreter, shared by the SBOM (which dependencies of
//! an installed distribution apply) and the lock-file readers (which locked packages to install).
//!
//! A marker is evaluated in three values: true, false, or unknown (a variable whose value is not known
//! for the target, such as `platform_release`, or a marker that cannot be read). Versions compare by
//! PEP 440 ([`crate::pep440`]) where both sides are versions, as strings otherwise. A leaf: it runs
//! nothing and writes nothing.
//!
//! # References
//! PEP 508 (environment markers), PEP 685 (extra names compared normalized), PEP 751 (`extras` and
//! `dependency_groups`, sets tested with `in`).

use crate::pep440;

/// The values of PEP 508's environment markers for the target interpreter, a CPython on Linux.
/// `sys_platform`, `platform_system`, `os_name`, `implementation_name` and
/// `platform_python_implementation` are those of CPython on Linux; `platform_release` and
/// `platform_version` are unknown (the build machine's kernel is not the one the package runs on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerEnvironment {
    /// `python_full_version` (`3.11.2`), also `implementation_version`; `python_version` is its first
    /// two parts. None: unknown.
    pub python_full_version: Option<String>,
    /// `platform_machine` (`x86_64`, `aarch64`); None: unknown.
    pub platform_machine: Option<String>,
    /// PEP 751's `extras`: the extras asked for (`'web' in extras`), normalized.
    pub extras: Vec<String>,
    /// PEP 751's `dependency_groups`: the dependency groups asked for, normalized.
    pub dependency_groups: Vec<String>,
}

impl MarkerEnvironment {
    /// The environment of a CPython `version` on `machine`, with no extras or groups.
    pub fn cpython(version: (u32, u32, u32), machine: &str) -> MarkerEnvironment {
        MarkerEnvironment {
            python_full_version: Some(format!("{}.{}.{}", version.0, version.1, version.2)),
            platform_machine: Some(machine.to_owned()),
            ..MarkerEnvironment::default()
        }
    }
}

/// A name normalized as PEP 503 and PEP 685 compare names: lowercase, runs of `-`, `_`, `.` as one
/// `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Variable(String),
    Op(String),
    Open,
    Close,
    And,
    Or,
}

fn tokenize(marker: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = marker.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..].iter().position(|&d| d == c)? + i + 1;
            tokens.push(Token::Text(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if "<>=!~".contains(c) {
            let mut op = String::new();
            while i < chars.len() && "<>=!~".contains(chars[i]) {
                op.push(chars[i]);
                i += 1;
            }
            tokens.push(Token::Op(op));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                word.push(chars[i]);
                i += 1;
            }
            match word.as_str() {
                "and" => tokens.push(Token::And),
                "or" => tokens.push(Token::Or),
                "in" => tokens.push(Token::Op("in".into())),
                "not" => tokens.push(Token::Op("not".into())),
                _ => tokens.push(Token::Variable(word)),
            }
        } else {
            return None;
        }
    }
    // `not in` is one operator.
    let mut merged: Vec<Token> = Vec::new();
    for token in tokens {
        if token == Token::Op("in".into()) && merged.last() == Some(&Token::Op("not".into())) {
            merged.pop();
            merged.push(Token::Op("not in".into()));
        } else {
            merged.push(token);
        }
    }
    Some(merged)
}

/// Three-valued evaluation of a PEP 508 marker: Some(true), Some(false), or None (unknown: a
/// variable whose value is not known, or a marker that cannot be read). `extra` is the value of the
/// `extra` variable (None: `extra == ...` is false).
pub fn evaluate_marker(marker: &str, env: &MarkerEnvironment, extra: Option<&str>) -> Option<bool> {
    let tokens = tokenize(marker)?;
    let mut parser = MarkerParser {
        tokens: &tokens,
        at: 0,
        env,
        extra,
    };
    let value = parser.or_expression()?;
    (parser.at == tokens.len()).then_some(value)?
}

/// Whether `marker` holds for `env` with any of `extras` as the value of `extra`, or with none: the
/// test of a dependency that is wanted when any of the extras asked for names it. Unknown counts as
/// true (the dependency is kept rather than silently dropped).
pub fn holds_with_any_extra(marker: &str, env: &MarkerEnvironment, extras: &[String]) -> bool {
    std::iter::once(None)
        .chain(extras.iter().map(|e| Some(e.as_str())))
        .any(|extra| evaluate_marker(marker, env, extra) != Some(false))
}

/// Whether `marker` can be read at all.
pub fn is_valid_marker(marker: &str) -> bool {
    let Some(tokens) = tokenize(marker) else {
        return false;
    };
    let env = MarkerEnvironment::default();
    let mut parser = MarkerParser {
        tokens: &tokens,
        at: 0,
        env: &env,
        extra: None,
    };
    parser.or_expression().is_some() && parser.at == tokens.len()
}

struct MarkerParser<'a> {
    tokens: &'a [Token],
    at: usize,
    env: &'a MarkerEnvironment,
    extra: Option<&'a str>,
}

/// What a marker variable or literal stands for.
enum Value {
    /// A string (a literal, or a variable such as `sys_platform`).
    Text(String),
    /// A set of names (`extras`, `dependency_groups`), normalized.
    Set(Vec<String>),
    /// A variable whose value is not known for the target.
    Unknown,
}

impl MarkerParser<'_> {
    /// The outer Option: whether it parsed; the inner: the three-valued result.
    fn or_expression(&mut self) -> Option<Option<bool>> {
        let mut value = self.and_expression()?;
        while self.tokens.get(self.at) == Some(&Token::Or) {
            self.at += 1;
            let right = self.and_expression()?;
            value = match (value, right) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            };
        }
        Some(value)
    }

    fn and_expression(&mut self) -> Option<Option<bool>> {
        let mut value = self.atom()?;
        while self.tokens.get(self.at) == Some(&Token::And) {
            self.at += 1;
            let right = self.atom()?;
            value = match (value, right) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
        }
        Some(value)
    }

    fn atom(&mut self) -> Option<Option<bool>> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let value = self.or_expression()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return None;
            }
            self.at += 1;
            return Some(value);
        }
        let left = self.tokens.get(self.at)?.clone();
        let Token::Op(op) = self.tokens.get(self.at + 1)?.clone() else {
            return None;
        };
        let right = self.tokens.get(self.at + 2)?.clone();
        self.at += 3;
        let known = |t: &Token| match t {
            Token::Text(_) => true,
            Token::Variable(name) => VARIABLES.contains(&name.as_str()),
            _ => false,
        };
        if !known(&left) || !known(&right) {
            return None;
        }
        Some(self.compare(&left, &op, &right))
    }

    /// The value of a variable or a literal.
    fn value(&self, token: &Token) -> Value {
        let text = |s: &str| Value::Text(s.to_owned());
        let or_unknown = |v: Option<String>| v.map_or(Value::Unknown, Value::Text);
        let Token::Variable(name) = token else {
            return match token {
                Token::Text(t) => Value::Text(t.clone()),
                _ => Value::Unknown,
            };
        };
        match name.as_str() {
            "python_full_version" | "implementation_version" => {
                or_unknown(self.env.python_full_version.clone())
            }
            "python_version" => or_unknown(
                self.env
                    .python_full_version
                    .as_ref()
                    .map(|v| v.split('.').take(2).collect::<Vec<_>>().join(".")),
            ),
            "platform_machine" => or_unknown(self.env.platform_machine.clone()),
            "sys_platform" => text("linux"),
            "os_name" => text("posix"),
            "platform_system" => text("Linux"),
            "implementation_name" => text("cpython"),
            "platform_python_implementation" => text("CPython"),
            "extra" => Value::Text(self.extra.map(normalize_name).unwrap_or_default()),
            "extras" => Value::Set(self.env.extras.iter().map(|e| normalize_name(e)).collect()),
            "dependency_groups" => Value::Set(
                self.env
                    .dependency_groups
                    .iter()
                    .map(|g| normalize_name(g))
                    .collect(),
            ),
            _ => Value::Unknown,
        }
    }

    fn compare(&self, left: &Token, op: &str, right: &Token) -> Option<bool> {
        let names = |t: &Token| matches!(t, Token::Variable(v) if ["extra", "extras", "dependency_groups"].contains(&v.as_str()));
        let normalize = names(left) || names(right);
        let (l, r) = match (self.value(left), self.value(right)) {
            (Value::Unknown, _) | (_, Value::Unknown) => return None,
            (Value::Text(l), Value::Set(set)) => {
                let member = set.contains(&normalize_name(&l));
                return match op {
                    "in" => Some(member),
                    "not in" => Some(!member),
                    _ => None,
                };
            }
            (Value::Set(_), _) => return None,
            (Value::Text(l), Value::Text(r)) => (l, r),
        };
        let (l, r) = if normalize {
            (normalize_name(&l), normalize_name(&r))
        } else {
            (l, r)
        };
        match op {
            "in" => return Some(r.contains(&l)),
            "not in" => return Some(!r.contains(&l)),
            _ => {}
        }
        let versions = !normalize
            && pep440::Version::parse(&l).is_some()
            && pep440::Version::parse(r.strip_suffix(".*").unwrap_or(&r)).is_some();
        if versions {
            if let Some(result) = pep440::satisfies(&l, op, &r) {
                return Some(result);
            }
        }
        // PEP 508: where PEP 440 defines nothing, Python's string comparison.
        match op {
            "==" | "===" => Some(l == r),
            "!=" => Some(l != r),
            "<" => Some(l < r),
            "<=" => Some(l <= r),
            ">" => Some(l > r),
            ">=" => Some(l >= r),
            _ => None,
        }
    }
}

/// The variables of PEP 508 (with the `extras` and `dependency_groups` of PEP 751).
const VARIABLES: [&str; 15] = [
    "python_version",
    "python_full_version",
    "os_name",
    "sys_platform",
    "platform_release",
    "platform_system",
    "platform_version",
    "platform_machine",
    "platform_python_implementation",
    "implementation_name",
    "implementation_version",
    "extra",
    "extras",
    "dependency_groups",
    "os.name",
];

/// A PEP 508 requirement (a `Requires-Dist`) read into its normalized name, its extras, and its
/// marker; None when it names nothing.
pub fn parse_requirement(requirement: &str) -> Option<(String, Vec<String>, Option<String>)> {
    let (spec, marker) = match requirement.split_once(';') {
        Some((spec, marker)) => (spec, Some(marker.trim().to_owned())),
        None => (requirement, None),
    };
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(spec.len());
    let name = normalize_name(&spec[..end]);
    if name.is_empty() {
        return None;
    }
    let rest = spec[end..].trim_start();
    let extras = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((extras, _)) => extras
            .split(',')
            .map(normalize_name)
            .filter(|e| !e.is_empty())
            .collect(),
        None => Vec::new(),
    };
    Some((name, extras, marker))
}

/// The quoted strings of `marker`, normalized as names: the extras it may name (none when it cannot
/// be read).
pub fn extras_named(marker: &str) -> Vec<String> {
    tokenize(marker)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t {
            Token::Text(text) => Some(normalize_name(&text)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_evaluated_in_three_values() {
        let env = MarkerEnvironment {
            python_full_version: Some("3.11.2".into()),
            ..MarkerEnvironment::default()
        };
        let eval = |m: &str| evaluate_marker(m, &env, None);
        assert_eq!(eval("python_version < \"3.8\""), Some(false));
        assert_eq!(eval("python_version >= '3.11'"), Some(true));
        assert_eq!(eval("python_full_version == '3.11.*'"), Some(true));
        assert_eq!(eval("python_version ~= '3.9'"), Some(true));
        assert_eq!(
            eval("sys_platform == 'win32' or python_version > '3'"),
            Some(true)
        );
        assert_eq!(
            eval("(os_name == 'nt') and platform_machine == 'x86_64'"),
            Some(false)
        );
        assert_eq!(eval("platform_machine == 'x86_64'"), None);
        assert_eq!(eval("'linux' in sys_platform"), Some(true));
        assert_eq!(eval("extra == 'socks'"), Some(false));
        assert_eq!(
            evaluate_marker("extra == 'Socks'", &env, Some("socks")),
            Some(true)
        );
        assert_eq!(eval("python_version <"), None);
    }

    #[test]
    fn the_target_is_cpython_on_linux_with_its_machine_extras_and_groups() {
        let mut env = MarkerEnvironment::cpython((3, 11, 2), "aarch64");
        env.extras = vec!["Web_UI".into()];
        env.dependency_groups = vec!["dev".into()];
        let eval = |m: &str| evaluate_marker(m, &env, None);
        assert_eq!(eval("platform_machine == 'aarch64'"), Some(true));
        assert_eq!(
            eval("platform_machine == 'x86_64' or python_version < '3.12'"),
            Some(true)
        );
        assert_eq!(
            eval("'web-ui' in extras and 'dev' in dependency_groups"),
            Some(true)
        );
        assert_eq!(eval("'docs' in extras"), Some(false));
        assert_eq!(eval("'docs' not in dependency_groups"), Some(true));
        assert_eq!(eval("platform_release >= '6'"), None);
        assert_eq!(
            eval("platform_release >= '6' and os_name == 'nt'"),
            Some(false)
        );
        assert_eq!(eval("python_full_version >= '3.11.0rc1'"), Some(true));
        assert_eq!(eval("python_full_version < '3.11.2.post1'"), Some(true));
        assert_eq!(eval("python_version === '3.11'"), Some(true));
        assert_eq!(eval("implementation_name == 'pypy'"), Some(false));
        assert_eq!(eval("nonsense == '1'"), None);
        assert!(holds_with_any_extra(
            "extra == 'web-ui'",
            &env,
            &["web_ui".into()]
        ));
        assert!(!holds_with_any_extra(
            "extra == 'docs'",
            &env,
            &["web_ui".into()]
        ));
        assert!(is_valid_marker("python_version >= '3' and ('a' in extras)"));
        assert!(!is_valid_marker("python_version >= "));
    }
}
