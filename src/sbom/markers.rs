//! PEP 508 environment markers and requirements, as far as the SBOM needs them: a `Requires-Dist`
//! read into its name, extras and marker, and the marker evaluated in three values for the target
//! interpreter (true, false, or unknown), versions compared as dotted numbers.

use super::metadata::normalize_name;

/// The values of PEP 508's environment markers that the SBOM knows for the target interpreter; a
/// marker naming another variable is unknown, and its requirement counts when the distribution it
/// names is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerEnvironment {
    /// `python_full_version` (`3.11.2`); `python_version` is its first two parts.
    pub python_full_version: Option<String>,
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
/// variable the SBOM does not know, or a marker it cannot read). `extra` is the extra being asked
/// about (None: `extra == …` is false).
pub(super) fn evaluate_marker(
    marker: &str,
    env: &MarkerEnvironment,
    extra: Option<&str>,
) -> Option<bool> {
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

struct MarkerParser<'a> {
    tokens: &'a [Token],
    at: usize,
    env: &'a MarkerEnvironment,
    extra: Option<&'a str>,
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
        Some(self.compare(&left, &op, &right))
    }

    /// The value of a variable (with whether it is a version), None when unknown.
    fn value(&self, token: &Token) -> Option<(Option<String>, bool)> {
        match token {
            Token::Text(text) => Some((Some(text.clone()), false)),
            Token::Variable(name) => Some(match name.as_str() {
                "python_full_version" => (self.env.python_full_version.clone(), true),
                "python_version" => (
                    self.env
                        .python_full_version
                        .as_ref()
                        .map(|v| v.split('.').take(2).collect::<Vec<_>>().join(".")),
                    true,
                ),
                "sys_platform" => (Some("linux".into()), false),
                "os_name" => (Some("posix".into()), false),
                "platform_system" => (Some("Linux".into()), false),
                "implementation_name" => (Some("cpython".into()), false),
                "platform_python_implementation" => (Some("CPython".into()), false),
                "extra" => (
                    Some(self.extra.map(normalize_name).unwrap_or_default()),
                    false,
                ),
                _ => (None, false),
            }),
            _ => None,
        }
    }

    fn compare(&self, left: &Token, op: &str, right: &Token) -> Option<bool> {
        let (left_value, left_version) = self.value(left)?;
        let (right_value, right_version) = self.value(right)?;
        let extra = matches!(left, Token::Variable(v) if v == "extra")
            || matches!(right, Token::Variable(v) if v == "extra");
        let (mut l, mut r) = (left_value?, right_value?);
        if extra {
            l = normalize_name(&l);
            r = normalize_name(&r);
        }
        match op {
            "in" => return Some(r.contains(&l)),
            "not in" => return Some(!r.contains(&l)),
            _ => {}
        }
        if left_version || right_version {
            if op == "==" || op == "!=" {
                if let Some(prefix) = r.strip_suffix(".*") {
                    let matches = l == prefix || l.starts_with(&format!("{prefix}."));
                    return Some(matches == (op == "=="));
                }
            }
            let (a, b) = (version_parts(&l)?, version_parts(&r)?);
            let ordering = compare_versions(&a, &b);
            return Some(match op {
                "==" | "===" => ordering.is_eq(),
                "!=" => ordering.is_ne(),
                "<" => ordering.is_lt(),
                "<=" => ordering.is_le(),
                ">" => ordering.is_gt(),
                ">=" => ordering.is_ge(),
                "~=" => {
                    let prefix = &b[..b.len().saturating_sub(1).max(1)];
                    ordering.is_ge() && a.len() >= prefix.len() && a[..prefix.len()] == *prefix
                }
                _ => return None,
            });
        }
        match op {
            "==" | "===" => Some(l == r),
            "!=" => Some(l != r),
            _ => None,
        }
    }
}

fn version_parts(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

fn compare_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// A `Requires-Dist` read: the normalized name, its extras, and its marker.
pub(super) fn parse_requirement(
    requirement: &str,
) -> Option<(String, Vec<String>, Option<String>)> {
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
pub(super) fn extras_named(marker: &str) -> Vec<String> {
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
}
