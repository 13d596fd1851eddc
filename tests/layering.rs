//! The crate's arrows point down: a module uses only the modules declared before it in src/lib.rs
//! (leaves first, the programs last), never lib.rs itself and never a later stage.
//!
//! The check reads the source: every `crate::<module>` path outside comments and outside the
//! `#[cfg(test)]` module at the end of a file (tests may build what they need from anywhere).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The modules src/lib.rs declares, in order.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').trim().to_owned())
        .collect()
}

/// The source files of `module`: src/<module>.rs, or every file under src/<module>/.
fn module_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut files: Vec<PathBuf> = walk(&src.join(module));
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its test module and without comments.
fn code_of(text: &str) -> String {
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate modules `code` names: `crate::x` paths, and the names inside `use crate::{x, y::z}`.
fn used_modules(code: &str) -> Vec<String> {
    let mut used = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Nested groups are not used in this crate; a top-level name starts each item.
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    used.push(name);
                }
            }
        } else {
            used.push(ident(rest));
        }
    }
    used
}

#[test]
fn every_module_uses_only_modules_declared_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = declared_modules(&lib);
    assert!(order.len() > 10, "src/lib.rs declares {order:?}");
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    assert!(
        !code_of(&lib).contains("fn "),
        "src/lib.rs holds only the module list and its doc comment"
    );
    let mut wrong = Vec::new();
    for module in &order {
        for file in module_files(&src, module) {
            let code = code_of(&fs::read_to_string(&file).unwrap());
            for used in used_modules(&code) {
                let Some(&used_rank) = rank.get(used.as_str()) else {
                    wrong.push(format!(
                        "{}: crate::{used} is no module of src/lib.rs (lib.rs holds no items)",
                        file.display()
                    ));
                    continue;
                };
                if used_rank > rank[module.as_str()] {
                    wrong.push(format!(
                        "{}: uses crate::{used}, declared after {module} in src/lib.rs",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_paths_groups_and_skips_comments_and_tests() {
    let code = code_of(
        "use crate::tree::walk;\nuse crate::{layout, debhelper::Reporter};\n// crate::pipeline\n\
         fn f() { crate::elf::scan(); }\n#[cfg(test)]\nmod tests { use crate::pipeline; }\n",
    );
    assert_eq!(used_modules(&code), ["tree", "layout", "debhelper", "elf"]);
}
