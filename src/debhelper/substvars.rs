//! Substvars: adding items to a substitution variable of `debian/<package>.substvars` as `Dh_Lib.pm`'s
//! `addsubstvar` does, and removing them again.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use super::Package;
use crate::outputs::Outputs;

/// Adds `item` to the comma-separated list of `substvar` in a substvars file's text, as `Dh_Lib.pm`'s
/// `addsubstvar` does: the existing `name=` or `name?=` line is split on ", ", the item is added, the
/// list is de-duplicated and sorted, and the operator is kept; without such a line one is appended.
/// Returns the new text, or None when the item was already there.
///
/// # Errors
/// When `item` holds a newline, which would break the file (deb-substvars(5)).
///
/// # References
/// deb-substvars(5); debhelper 13.11 `Dh_Lib.pm`, `addsubstvar` and `_update_substvar`.
pub fn merge_substvar(text: &str, substvar: &str, item: &str) -> Result<Option<String>> {
    if item.contains('\n') {
        bail!("the value of ${{{substvar}}} must not contain a newline: {item:?}");
    }
    let mut present = false;
    let mut changed = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let assignment = substvar_assignment(line, substvar);
        match assignment {
            Some((operator, value)) => {
                present = true;
                let mut items: BTreeSet<&str> =
                    value.split(", ").filter(|i| !i.is_empty()).collect();
                if items.insert(item) {
                    changed = true;
                    let joined = items.into_iter().collect::<Vec<_>>().join(", ");
                    lines.push(format!("{substvar}{operator}{joined}"));
                } else {
                    lines.push(line.to_owned());
                }
            }
            None => lines.push(line.to_owned()),
        }
    }
    if !present {
        lines.push(format!("{substvar}={item}"));
        changed = true;
    }
    Ok(changed.then(|| lines.into_iter().map(|l| l + "\n").collect()))
}

/// The operator (`=` or `?=`) and value of `line` when it assigns `substvar` (deb-substvars(5)).
fn substvar_assignment<'a>(line: &'a str, substvar: &str) -> Option<(&'static str, &'a str)> {
    let rest = line.strip_prefix(substvar)?;
    rest.strip_prefix("?=")
        .map(|v| ("?=", v))
        .or(rest.strip_prefix('=').map(|v| ("=", v)))
}

/// Removes `items` from the comma-separated list of `substvar` in a substvars file's text (the
/// undoing of [`merge_substvar`]); a line left with no item is dropped. Returns the new text, or None
/// when nothing changed.
pub fn unmerge_substvar(text: &str, substvar: &str, items: &[String]) -> Option<String> {
    let mut changed = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let assignment = substvar_assignment(line, substvar);
        let Some((operator, value)) = assignment else {
            lines.push(line.to_owned());
            continue;
        };
        let kept: Vec<&str> = value
            .split(", ")
            .filter(|i| !i.is_empty() && !items.iter().any(|r| r == i))
            .collect();
        if kept.len() == value.split(", ").filter(|i| !i.is_empty()).count() {
            lines.push(line.to_owned());
            continue;
        }
        changed = true;
        if !kept.is_empty() {
            lines.push(format!("{substvar}{operator}{}", kept.join(", ")));
        }
    }
    changed.then(|| lines.into_iter().map(|l| l + "\n").collect())
}

/// Removes `items` from `substvar` in `debian/<package>.substvars`, among the run's `outputs`.
///
/// # Errors
/// When the file cannot be read; the message names the file.
pub fn remove_substvar_items(
    outputs: &mut Outputs,
    package: &Package,
    substvar: &str,
    items: &[String],
) -> Result<()> {
    let path = package.debian_file("substvars");
    let text = outputs.read(&path)?;
    if let Some(new_text) = unmerge_substvar(&text, substvar, items) {
        outputs.write(path, new_text);
    }
    Ok(())
}

/// Adds `item` to `substvar` in `debian/<package>.substvars`, among the run's `outputs`, with
/// [`merge_substvar`]'s semantics.
///
/// # Errors
/// When the file cannot be read, or the item holds a newline; the message names the file.
pub fn add_substvar(
    outputs: &mut Outputs,
    package: &Package,
    substvar: &str,
    item: &str,
) -> Result<()> {
    let path = package.debian_file("substvars");
    let text = outputs.read(&path)?;
    if let Some(new_text) = merge_substvar(&text, substvar, item)? {
        outputs.write(path, new_text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_the_named_items_from_a_substvar() {
        let text = "misc:Depends=adduser, python3.11\nshlibs:Depends=libc6 (>= 2.34)\n";
        assert_eq!(
            unmerge_substvar(text, "misc:Depends", &["python3.11".to_owned()]).as_deref(),
            Some("misc:Depends=adduser\nshlibs:Depends=libc6 (>= 2.34)\n")
        );
        assert_eq!(
            unmerge_substvar(text, "shlibs:Depends", &["libc6 (>= 2.34)".to_owned()]).as_deref(),
            Some("misc:Depends=adduser, python3.11\n")
        );
        assert_eq!(
            unmerge_substvar(text, "misc:Depends", &["x".to_owned()]),
            None
        );
    }
    #[test]
    fn substvar_merge_adds_sorts_and_deduplicates() {
        let text = "misc:Depends=\nrustvenv:Depends=zlib1g (>= 1:1.1.4), python3.11\n";
        let merged = merge_substvar(text, "rustvenv:Depends", "libc6 (>= 2.34)")
            .unwrap()
            .unwrap();
        assert_eq!(
            merged,
            "misc:Depends=\nrustvenv:Depends=libc6 (>= 2.34), python3.11, zlib1g (>= 1:1.1.4)\n"
        );
        assert_eq!(
            merge_substvar(&merged, "rustvenv:Depends", "python3.11").unwrap(),
            None
        );
    }

    #[test]
    fn substvar_merge_keeps_the_optional_operator_and_appends_new_lines() {
        let merged = merge_substvar("rustvenv:Depends?=a\n", "rustvenv:Depends", "b")
            .unwrap()
            .unwrap();
        assert_eq!(merged, "rustvenv:Depends?=a, b\n");
        let appended = merge_substvar("misc:Depends=x\n", "rustvenv:Depends", "python3.11")
            .unwrap()
            .unwrap();
        assert_eq!(appended, "misc:Depends=x\nrustvenv:Depends=python3.11\n");
        // A variable whose name only starts with ours is another variable.
        let other = merge_substvar("rustvenv:DependsX=a\n", "rustvenv:Depends", "b")
            .unwrap()
            .unwrap();
        assert_eq!(other, "rustvenv:DependsX=a\nrustvenv:Depends=b\n");
    }

    #[test]
    fn substvar_merge_refuses_newlines() {
        assert!(merge_substvar("", "rustvenv:Depends", "a\nb").is_err());
    }
}
