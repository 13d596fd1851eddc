//! Typed reads of a parsed TOML lock, each failure a message that says where and what was expected,
//! so that a malformed lock gives one clear error and never a panic.

use toml::{Table, Value};

/// Parses `text` as TOML; the error gives the parser's message (with its line and column).
pub(super) fn parse(text: &str) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| {
        format!(
            "not valid TOML: {}",
            e.to_string().trim().replace('\n', " ")
        )
    })
}

/// The string at `key` of `table` (`what` names the table in messages); None when absent.
pub(super) fn opt_str<'a>(
    table: &'a Table,
    key: &str,
    what: &str,
) -> Result<Option<&'a str>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{what}: `{key}` is not a string")),
    }
}

/// The string at `key` of `table`, which must be there.
pub(super) fn req_str<'a>(table: &'a Table, key: &str, what: &str) -> Result<&'a str, String> {
    opt_str(table, key, what)?.ok_or_else(|| format!("{what} has no `{key}`"))
}

/// The table at `key` of `table`; None when absent.
pub(super) fn opt_table<'a>(
    table: &'a Table,
    key: &str,
    what: &str,
) -> Result<Option<&'a Table>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(format!("{what}: `{key}` is not a table")),
    }
}

/// The array of tables at `key` of `table` (empty when absent).
pub(super) fn tables<'a>(
    table: &'a Table,
    key: &str,
    what: &str,
) -> Result<Vec<&'a Table>, String> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_table()
                    .ok_or_else(|| format!("{what}: an entry of `{key}` is not a table"))
            })
            .collect(),
        Some(_) => Err(format!("{what}: `{key}` is not an array")),
    }
}

/// The array of strings at `key` of `table` (empty when absent).
pub(super) fn strings(table: &Table, key: &str, what: &str) -> Result<Vec<String>, String> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{what}: an entry of `{key}` is not a string"))
            })
            .collect(),
        Some(_) => Err(format!("{what}: `{key}` is not an array")),
    }
}

/// The sha256 of a `hash = "sha256:<hex>"` string, lowercase; an error for another algorithm or a
/// digest that is not 64 hex digits.
pub(super) fn sha256_of(hash: &str, what: &str) -> Result<String, String> {
    let hex = hash
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("{what}: the hash `{hash}` is not a sha256 (sha256:<hex>)"))?;
    checked_hex(hex, what)
}

/// `hex` lowercase when it is 64 hex digits.
pub(super) fn checked_hex(hex: &str, what: &str) -> Result<String, String> {
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!("{what}: `{hex}` is not a sha256 digest"))
    }
}

/// The last segment of a URL's path (`https://h/p/name.whl#sha256=...` gives `name.whl`), with `%xx`
/// escapes decoded.
pub(super) fn url_file_name(url: &str) -> String {
    let path = url.split(['#', '?']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or(path);
    let bytes = last.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_values_are_errors_that_say_where() {
        let table = parse("a = 1\nb = 'x'\nc = [1]\n").unwrap();
        assert_eq!(opt_str(&table, "b", "t").unwrap(), Some("x"));
        assert!(
            opt_str(&table, "a", "t")
                .unwrap_err()
                .contains("`a` is not a string")
        );
        assert!(
            req_str(&table, "z", "package x")
                .unwrap_err()
                .contains("package x has no `z`")
        );
        assert!(tables(&table, "c", "t").is_err());
        assert!(parse("a = ").unwrap_err().starts_with("not valid TOML"));
        assert!(sha256_of("md5:00", "f").is_err());
        assert_eq!(
            url_file_name("https://files.example/p/a%2Bb-1.0.tar.gz#sha256=00"),
            "a+b-1.0.tar.gz"
        );
        assert_eq!(url_file_name("https://h/%a\u{e9}x"), "%a\u{e9}x");
    }
}
