//! uv.lock read for a target: the traversal from the project, markers, extras, groups, staleness.

use super::*;
use crate::markers::MarkerEnvironment;
use crate::tags::compatible_tags;

fn target(extras: &[&str], groups: &[&str]) -> Target {
    let mut env = MarkerEnvironment::cpython((3, 11, 2), "x86_64");
    env.extras = extras.iter().map(|e| e.to_string()).collect();
    env.dependency_groups = groups.iter().map(|g| g.to_string()).collect();
    Target {
        env,
        tags: compatible_tags(11, "x86_64", Some(36)),
        groups_named: !groups.is_empty(),
    }
}

fn hash(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn lock() -> String {
    format!(
        r#"version = 1
revision = 2
requires-python = ">=3.9"

[[package]]
name = "app"
version = "1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "greetlib" }},
    {{ name = "winlib", marker = "sys_platform == 'win32'" }},
    {{ name = "requests", extra = ["socks"] }},
]

[package.optional-dependencies]
web = [{{ name = "weblib" }}]

[package.dev-dependencies]
dev = [{{ name = "testlib" }}]

[package.metadata]
requires-dist = [
    {{ name = "greetlib" }},
    {{ name = "winlib", marker = "sys_platform == 'win32'" }},
    {{ name = "requests", extras = ["socks"] }},
    {{ name = "weblib", marker = "extra == 'web'" }},
]

[[package]]
name = "greetlib"
version = "1.0"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/greetlib-1.0.tar.gz", hash = "{a}", size = 10 }}
wheels = [{{ url = "https://files.example/greetlib-1.0-py3-none-any.whl", hash = "{b}", size = 10 }}]

[[package]]
name = "requests"
version = "2.0"
source = {{ registry = "https://pypi.org/simple" }}
dependencies = [{{ name = "greetlib" }}]
sdist = {{ url = "https://files.example/requests-2.0.tar.gz", hash = "{a}" }}

[package.optional-dependencies]
socks = [{{ name = "pysocks" }}]

[[package]]
name = "pysocks"
version = "1.7"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/pysocks-1.7.tar.gz", hash = "{a}" }}

[[package]]
name = "winlib"
version = "1.0"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/winlib-1.0.tar.gz", hash = "{a}" }}

[[package]]
name = "weblib"
version = "3.0"
source = {{ path = "dist/weblib-3.0.tar.gz" }}
sdist = {{ path = "dist/weblib-3.0.tar.gz", hash = "{a}" }}

[[package]]
name = "testlib"
version = "4.0"
source = {{ registry = "https://pypi.org/simple" }}
wheels = [{{ url = "https://files.example/testlib-4.0-py3-none-any.whl", hash = "{c}" }}]
"#,
        a = hash('a'),
        b = hash('b'),
        c = hash('c'),
    )
}

fn names(read: &LockRead) -> Vec<&str> {
    read.packages.iter().map(|p| p.name.as_str()).collect()
}

fn pyproject(dependencies: &str) -> Table {
    format!(
        "[project]\nname = 'app'\ndependencies = [{dependencies}]\n[project.optional-dependencies]\nweb = ['weblib']\n"
    )
    .parse()
    .unwrap()
}

#[test]
fn the_project_s_dependencies_are_followed_with_markers_extras_and_groups() {
    let base = Path::new("/src");
    let pyproject = pyproject("'greetlib', 'winlib; sys_platform == \"win32\"', 'requests[socks]'");
    let read = super::read(&lock(), &target(&[], &[]), base, Some(&pyproject)).unwrap();
    assert_eq!(names(&read), ["greetlib", "requests", "pysocks"]);
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    assert_eq!(read.packages[0].files.len(), 2);
    assert_eq!(read.packages[0].files[0].sha256, "b".repeat(64));
    let read = super::read(&lock(), &target(&["web"], &["dev"]), base, Some(&pyproject)).unwrap();
    assert_eq!(
        names(&read),
        ["greetlib", "requests", "pysocks", "weblib", "testlib"]
    );
    assert_eq!(
        read.packages[3].files[0].path.as_deref(),
        Some(Path::new("/src/dist/weblib-3.0.tar.gz"))
    );
    let err = super::read(&lock(), &target(&["nope"], &[]), base, None).unwrap_err();
    assert!(err.contains("no extra `nope`"), "{err}");
}

#[test]
fn a_lock_older_than_pyproject_is_a_warning_and_a_broken_one_an_error() {
    let base = Path::new("/src");
    let newer = pyproject("'greetlib', 'requests[socks]', 'newlib'");
    let read = super::read(&lock(), &target(&[], &[]), base, Some(&newer)).unwrap();
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert!(
        read.warnings[0].contains("not locked: newlib; no longer required: winlib"),
        "{:?}",
        read.warnings
    );
    let err = |text: &str| super::read(text, &target(&[], &[]), base, None).unwrap_err();
    assert!(err("version = 2").contains("version 2"));
    assert!(
        err("version = 1\n[[package]]\nname = 'x'\nversion = '1'")
            .contains("no package entry for the project")
    );
    let dangling = lock().replace(
        "{ name = \"greetlib\" },\n    { name = \"winlib\"",
        "{ name = \"ghost\" },\n    { name = \"winlib\"",
    );
    assert!(err(&dangling).contains("depends on ghost"));
    let no_hash = lock().replace(&format!(", hash = \"{}\", size = 10 }}]", hash('b')), " }]");
    assert!(err(&no_hash).contains("has no hash"), "{}", err(&no_hash));
}
