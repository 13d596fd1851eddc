//! The SBOM of a package built with the add-on: valid CycloneDX 1.6 (checked with python3-jsonschema
//! against the schemas in tests/fixtures/cyclonedx, every `$ref` resolved there), listing every
//! dist-info of the venv and nothing else, byte-identical from two build directories; the license
//! summary beside the state; and `--no-sbom`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SourcePackage, run, scratch, sha256};

const PACKAGE: &str = "rvsbom";

/// Validates the JSON file `document` against bom-1.6 with python3-jsonschema, resolving the schema's
/// references to spdx and jsf from tests/fixtures/cyclonedx only: a reference that is not there makes
/// the resolver try the network, which the test machine does not give, and the check fails.
const VALIDATE: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import jsonschema
schemas, document = sys.argv[1], sys.argv[2]
def load(name):
    with open(f"{schemas}/{name}") as f:
        return json.load(f)
bom = load("bom-1.6.SNAPSHOT.schema.json")
base = "http://cyclonedx.org/schema/"
store = {bom["$id"]: bom}
for name in ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"]:
    store[base + name] = load(name)
resolver = jsonschema.RefResolver(base_uri=bom["$id"], referrer=bom, store=store)
validator = jsonschema.Draft7Validator(bom, resolver=resolver,
                                       format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
with open(document) as f:
    instance = json.load(f)
errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
for error in errors:
    print("/".join(str(p) for p in error.path), error.message)
sys.exit(1 if errors else 0)
"#;

fn validate(document: &Path) {
    let schemas = common::repo().join("tests/fixtures/cyclonedx");
    let output = common::run_unchecked(
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(VALIDATE)
            .arg(&schemas)
            .arg(document),
    );
    assert!(
        output.status.success(),
        "{} is not valid CycloneDX 1.6 (python3-jsonschema; scripts/install-deps installs it):\n{}{}",
        document.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The purls of the dist-infos directly in the site-packages of the venv at `venv`, from their
/// METADATA's Name and Version.
fn installed_purls(venv: &Path) -> BTreeSet<String> {
    let mut purls = BTreeSet::new();
    for lib in fs::read_dir(venv.join("lib")).unwrap() {
        let site = lib.unwrap().path().join("site-packages");
        let Ok(entries) = fs::read_dir(&site) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".dist-info") {
                continue;
            }
            let metadata = fs::read_to_string(path.join("METADATA")).unwrap();
            let field = |key: &str| {
                metadata
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap()
                    .trim()
                    .to_owned()
            };
            let name = field("Name:").to_lowercase().replace(['_', '.'], "-");
            purls.insert(format!("pkg:pypi/{name}@{}", field("Version:")));
        }
    }
    purls
}

fn with_sbom_requirements(parent: &Path) -> SourcePackage {
    fs::create_dir_all(parent).unwrap();
    let source = SourcePackage::new(parent, PACKAGE);
    // greetlib: a wheel; fastsum: an sdist pip builds; bundled: a wheel with auditwheel's .libs.
    source.write(
        "requirements.txt",
        "greetlib==1.0\nfastsum==1.0\nbundled==1.0\n",
    );
    // A distribution rules add after dh_rustvenv: dh_rustvenv_finish writes the SBOM anew.
    let late = format!(
        "debian/{PACKAGE}/opt/venvs/{PACKAGE}/lib/python3.11/site-packages/late_dist-2.0.dist-info"
    );
    source.rules(&format!(
        "override_dh_rustvenv:\n\tdh_rustvenv --wheelhouse wheelhouse\n\
         \tmkdir -p {late}\n\
         \tprintf 'Metadata-Version: 2.1\\nName: late_dist\\nVersion: 2.0\\n' > {late}/METADATA\n\
         \tprintf 'late_dist-2.0.dist-info/METADATA,,\\nlate_dist-2.0.dist-info/RECORD,,\\n' > {late}/RECORD\n"
    ));
    source
}

#[test]
fn the_sbom_lists_the_venv_validates_and_is_the_same_from_any_build_directory() {
    let tmp = scratch("sbom-");
    let mut builds: Vec<(SourcePackage, PathBuf)> = Vec::new();
    for parent in [
        tmp.path().join("a"),
        tmp.path().join("a-longer-build-directory/nested"),
    ] {
        let source = with_sbom_requirements(&parent);
        let output = source.dpkg_buildpackage_unchecked(&["-b"], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "dh_rustvenv: package {PACKAGE}: SBOM of the venv at /opt/venvs/{PACKAGE}/{PACKAGE}.cdx.json; \
                 license summary for debian/copyright in debian/.debhelper/rustvenv/{PACKAGE}/copyright-fragment"
            )),
            "{stderr}"
        );
        let debs = source.debs();
        let extracted = parent.join("extracted");
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(&debs[0].1)
            .arg(&extracted));
        builds.push((source, extracted));
    }
    let venv = builds[0].1.join(format!("opt/venvs/{PACKAGE}"));
    let sbom_file = venv.join(format!("{PACKAGE}.cdx.json"));
    let text = fs::read_to_string(&sbom_file).unwrap();
    let other = fs::read_to_string(
        builds[1]
            .1
            .join(format!("opt/venvs/{PACKAGE}/{PACKAGE}.cdx.json")),
    )
    .unwrap();
    assert!(text == other, "the SBOMs of the two builds differ");
    for (source, _) in &builds {
        let top = source.dir.parent().unwrap().to_string_lossy().into_owned();
        assert!(!text.contains(&top), "the SBOM names {top}");
    }
    validate(&sbom_file);

    let bom: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(bom["specVersion"], "1.6");
    // SOURCE_DATE_EPOCH of the changelog's date.
    assert_eq!(bom["metadata"]["timestamp"], "2026-11-21T00:00:00Z");
    let components = bom["components"].as_array().unwrap();
    let purls: BTreeSet<String> = components
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .filter(|p| p.starts_with("pkg:pypi/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(purls, installed_purls(&venv));
    assert!(purls.contains("pkg:pypi/greetlib@1.0"), "{purls:?}");
    assert!(purls.contains("pkg:pypi/late-dist@2.0"), "{purls:?}");
    let component = |purl: &str| {
        components
            .iter()
            .find(|c| c["purl"] == purl)
            .unwrap_or_else(|| panic!("no {purl} in the SBOM"))
    };
    // The wheel's hash: the wheelhouse file greetlib was installed from.
    // (The source package's wheelhouse is a copy of the tests' shared one.)
    let wheel = common::wheelhouse_file("greetlib-1.0-");
    assert_eq!(
        component("pkg:pypi/greetlib@1.0")["hashes"][0]["content"],
        sha256(&wheel).as_str()
    );
    // The native libraries bundled's wheel carries, with their hashes as shipped.
    let bundled = component("pkg:pypi/bundled@1.0");
    let libraries = bundled["components"].as_array().unwrap();
    assert!(!libraries.is_empty(), "{bundled:#}");
    for library in libraries {
        let path = library["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "dh-rustvenv:path")
            .unwrap()["value"]
            .as_str()
            .unwrap();
        let shipped = builds[0].1.join(path.trim_start_matches('/'));
        assert_eq!(library["hashes"][0]["content"], sha256(&shipped).as_str());
    }
    // The interpreter and the Debian packages of ${rustvenv:Depends}.
    for deb in ["pkg:deb/debian/python3.11", "pkg:deb/debian/libc6"] {
        component(deb);
    }
    assert_eq!(
        components.iter().find(|c| c["type"] == "platform").unwrap()["name"],
        "python"
    );

    // The license summary: one stanza per distribution.
    let fragment = fs::read_to_string(builds[0].0.dir.join(format!(
        "debian/.debhelper/rustvenv/{PACKAGE}/copyright-fragment"
    )))
    .unwrap();
    assert!(
        fragment.contains(&format!(
            "Files: opt/venvs/{PACKAGE}/lib/python3*/site-packages/greetlib-1.0.dist-info/*\n \
             opt/venvs/{PACKAGE}/lib/python3*/site-packages/greetlib/*\n"
        )),
        "{fragment}"
    );
    assert_eq!(
        fragment.matches("\nFiles: ").count(),
        installed_purls(&venv).len(),
        "{fragment}"
    );

    // The drop-in's dh_virtualenv: no SBOM, as dh-virtualenv writes none.
    let (source, _) = &builds[0];
    let staged = source
        .dir
        .join(format!("debian/{PACKAGE}/opt/venvs/{PACKAGE}"));
    let mut command = Command::new(common::tool_dir().join("dh_virtualenv"));
    command.current_dir(&source.dir).args(source.offline_args());
    common::with_tool_env(&mut command);
    run(&mut command);
    assert!(staged.join("bin/python").exists());
    assert!(!staged.join(format!("{PACKAGE}.cdx.json")).exists());

    // --no-sbom: no SBOM in the venv.
    let mut command = source.dh_rustvenv();
    command.args(["--no-sbom", "--wheelhouse", "wheelhouse"]);
    run(&mut command);
    assert!(staged.join("bin/python").exists());
    assert!(!staged.join(format!("{PACKAGE}.cdx.json")).exists());
}
