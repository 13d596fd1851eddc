//! What the late stage needs to know of the run that built a venv ([`State`]), kept as JSON in the
//! package's work directory beside the venv's snapshot.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::layout::Flavour;

/// A substvar and one item of its value: (`misc:Depends`, `python3.11`).
pub type SubstvarItem = (String, String);

/// An ELF file left unstripped because stripping would break it, and why.
pub type Unstripped = (PathBuf, String);

/// What the late stage needs to know of the run that built a venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The front door the venv was built through.
    pub flavour: Flavour,
    /// Where the venv was built (absolute).
    pub staging_root: PathBuf,
    /// The package build directory the venv was built in (absolute): the package's tmpdir, or the
    /// build system's destination directory.
    pub build_dir: PathBuf,
    /// Where it will live.
    pub final_root: PathBuf,
    /// The top of the source package (absolute), which no file may name. Not saved: the state is read
    /// for the source package it is in.
    pub top: PathBuf,
    /// The interpreter's package as a dependency (`python3.11`), when a Debian package ships it.
    pub interpreter_dependency: Option<String>,
    /// `--ship-bytecode`.
    pub ship_bytecode: bool,
    /// `--allow-leaks`.
    pub allow_leaks: bool,
    /// Whether ELF files stay unstripped ([`crate::elf::no_strip`]).
    pub no_strip: bool,
    /// `--ignore-library`.
    pub ignore_library: Vec<String>,
    /// `--recommends`.
    pub recommends: Vec<String>,
    /// `--suggests`.
    pub suggests: Vec<String>,
    /// The (substvar, item) pairs written to `debian/<package>.substvars`, so that a later run can
    /// take them back before it writes its own.
    pub substvars: Vec<SubstvarItem>,
    /// ELF files left unstripped because stripping would break them, and why (for their lintian
    /// overrides).
    pub unstripped: Vec<Unstripped>,
    /// Whether an SBOM and a license summary are written ([`crate::sbom`]): not with `--no-sbom`, nor
    /// for the dh_virtualenv drop-in.
    pub sbom: bool,
    /// The wheelhouse the venv was installed from (absolute), where the SBOM looks for the artifacts'
    /// hashes.
    pub wheelhouse: Option<PathBuf>,
    /// `SOURCE_DATE_EPOCH` of the run, the SBOM's timestamp.
    pub source_date_epoch: Option<i64>,
}

fn hex_path(path: &Path) -> String {
    crate::snapshot::hex(path.as_os_str().as_encoded_bytes())
}

fn unhex_path(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    crate::snapshot::unhex(text).map(|b| PathBuf::from(std::ffi::OsStr::from_bytes(&b)))
}

impl State {
    /// The state as JSON; paths are hex-encoded bytes, since they need not be UTF-8, and paths inside
    /// the source package are relative to its top, so that a copy of the tree (`cp -a`) acts on its
    /// own files, never on the original's.
    pub fn to_json(&self) -> String {
        let hex_path = |path: &Path| hex_path(path.strip_prefix(&self.top).unwrap_or(path));
        let value = json!({
            "flavour": self.flavour.name(),
            "staging_root": hex_path(&self.staging_root),
            "build_dir": hex_path(&self.build_dir),
            "final_root": hex_path(&self.final_root),
            "interpreter_dependency": self.interpreter_dependency,
            "ship_bytecode": self.ship_bytecode,
            "allow_leaks": self.allow_leaks,
            "no_strip": self.no_strip,
            "ignore_library": self.ignore_library,
            "recommends": self.recommends,
            "suggests": self.suggests,
            "substvars": self.substvars,
            "unstripped": self
                .unstripped
                .iter()
                .map(|(path, why)| (hex_path(path), why))
                .collect::<Vec<_>>(),
            "sbom": self.sbom,
            "wheelhouse": self.wheelhouse.as_deref().map(hex_path),
            "source_date_epoch": self.source_date_epoch,
        });
        format!("{value:#}\n")
    }

    /// Reads what [`State::to_json`] wrote, for the source package whose top is `top`.
    ///
    /// # Errors
    /// When the text is not such a state, or a path leads out of the source package with `..`; the
    /// message names the field.
    pub fn from_json(text: &str, top: &Path) -> Result<State> {
        let inside = |path: PathBuf, name: &str| -> Result<PathBuf> {
            if path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            {
                return Err(anyhow!(
                    "the field `{name}` leads out of the source package"
                ));
            }
            Ok(top.join(path))
        };
        let value: Value = serde_json::from_str(text)?;
        let field = |name: &str| -> Result<&Value> {
            value
                .get(name)
                .ok_or_else(|| anyhow!("the field `{name}` is missing"))
        };
        let string = |name: &str| -> Result<String> {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the field `{name}` is not a string"))
        };
        let path = |name: &str| -> Result<PathBuf> {
            let path = unhex_path(&string(name)?)
                .ok_or_else(|| anyhow!("the field `{name}` is not hex"))?;
            inside(path, name)
        };
        let flag = |name: &str| -> Result<bool> {
            field(name)?
                .as_bool()
                .ok_or_else(|| anyhow!("the field `{name}` is not true or false"))
        };
        let strings = |name: &str| -> Result<Vec<String>> {
            field(name)?
                .as_array()
                .ok_or_else(|| anyhow!("the field `{name}` is not a list"))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("`{name}` holds something other than text"))
                })
                .collect()
        };
        let flavour = string("flavour")?;
        let substvars = field("substvars")?
            .as_array()
            .ok_or_else(|| anyhow!("the field `substvars` is not a list"))?
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(name), Value::String(item)]) => {
                    Ok((name.clone(), item.clone()))
                }
                _ => Err(anyhow!("`substvars` holds something other than pairs")),
            })
            .collect::<Result<_>>()?;
        let unstripped = field("unstripped")?
            .as_array()
            .ok_or_else(|| anyhow!("the field `unstripped` is not a list"))?
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(path), Value::String(why)]) => Ok((
                    inside(
                        unhex_path(path).ok_or_else(|| anyhow!("`unstripped` holds a bad path"))?,
                        "unstripped",
                    )?,
                    why.clone(),
                )),
                _ => Err(anyhow!("`unstripped` holds something other than pairs")),
            })
            .collect::<Result<_>>()?;
        // Fields a state written before the SBOM existed lacks: no SBOM then.
        let sbom = match value.get("sbom") {
            None => false,
            Some(_) => flag("sbom")?,
        };
        let wheelhouse = match value.get("wheelhouse") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(inside(
                unhex_path(text).ok_or_else(|| anyhow!("the field `wheelhouse` is not hex"))?,
                "wheelhouse",
            )?),
            Some(_) => return Err(anyhow!("the field `wheelhouse` is not a string")),
        };
        let source_date_epoch = match value.get("source_date_epoch") {
            None | Some(Value::Null) => None,
            Some(number) => Some(
                number
                    .as_i64()
                    .ok_or_else(|| anyhow!("the field `source_date_epoch` is not a number"))?,
            ),
        };
        Ok(State {
            flavour: Flavour::from_name(&flavour)
                .ok_or_else(|| anyhow!("unknown flavour `{flavour}`"))?,
            staging_root: path("staging_root")?,
            build_dir: path("build_dir")?,
            final_root: unhex_path(&string("final_root")?)
                .ok_or_else(|| anyhow!("the field `final_root` is not hex"))?,
            top: top.to_path_buf(),
            interpreter_dependency: match field("interpreter_dependency")? {
                Value::Null => None,
                other => Some(
                    other
                        .as_str()
                        .ok_or_else(|| anyhow!("`interpreter_dependency` is not text"))?
                        .to_owned(),
                ),
            },
            ship_bytecode: flag("ship_bytecode")?,
            allow_leaks: flag("allow_leaks")?,
            no_strip: flag("no_strip")?,
            ignore_library: strings("ignore_library")?,
            recommends: strings("recommends")?,
            suggests: strings("suggests")?,
            substvars,
            unstripped,
            sbom,
            wheelhouse,
            source_date_epoch,
        })
    }
}

/// The state file and the snapshot of a package, in its work directory
/// (`debian/.debhelper/rustvenv/<package>/`): `state.json` and `snapshot`.
pub fn state_files(work_dir: &Path) -> (PathBuf, PathBuf) {
    (work_dir.join("state.json"), work_dir.join("snapshot"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_round_trip_with_odd_paths() {
        use std::os::unix::ffi::OsStrExt;
        let state = State {
            flavour: Flavour::DhVirtualenv,
            staging_root: PathBuf::from(std::ffi::OsStr::from_bytes(b"/b/\xff/debian/x/opt/x")),
            build_dir: PathBuf::from("/elsewhere/x"),
            final_root: PathBuf::from("/opt/x"),
            top: PathBuf::from("/b"),
            interpreter_dependency: Some("python3.11".into()),
            ship_bytecode: false,
            allow_leaks: true,
            no_strip: false,
            ignore_library: vec!["libcuda.so.1".into()],
            recommends: vec!["libpq5".into()],
            suggests: Vec::new(),
            substvars: vec![("misc:Depends".into(), "python3.11".into())],
            unstripped: vec![(
                PathBuf::from(std::ffi::OsStr::from_bytes(b"/b/x\xfe.so")),
                "stripping would break loading".into(),
            )],
            sbom: true,
            wheelhouse: Some(PathBuf::from("/b/debian/wheelhouse")),
            source_date_epoch: Some(1_700_000_000),
        };
        assert_eq!(
            State::from_json(&state.to_json(), Path::new("/b")).unwrap(),
            state
        );
        // A copy of the tree reads the state for its own files.
        let copy = State::from_json(&state.to_json(), Path::new("/copy")).unwrap();
        assert_eq!(
            copy.staging_root,
            PathBuf::from(std::ffi::OsStr::from_bytes(b"/copy/\xff/debian/x/opt/x"))
        );
        assert_eq!(
            copy.unstripped[0].0,
            PathBuf::from(std::ffi::OsStr::from_bytes(b"/copy/x\xfe.so"))
        );
        assert_eq!(copy.build_dir, Path::new("/elsewhere/x"));
        assert!(!state.to_json().contains(&crate::snapshot::hex(b"/b")));
        let broken = state
            .to_json()
            .replace("\"allow_leaks\": true", "\"allow_leaks\": 1");
        let error = State::from_json(&broken, Path::new("/b"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("allow_leaks"), "{error}");
        assert!(State::from_json("{", Path::new("/b")).is_err());
        // A state written before the SBOM existed: no SBOM.
        let mut older: Value = serde_json::from_str(&state.to_json()).unwrap();
        for field in ["sbom", "wheelhouse", "source_date_epoch"] {
            older.as_object_mut().unwrap().remove(field);
        }
        let older = State::from_json(&older.to_string(), Path::new("/b")).unwrap();
        assert!(!older.sbom);
        assert_eq!(older.wheelhouse, None);
        assert_eq!(older.source_date_epoch, None);
    }
}
