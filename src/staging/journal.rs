//! The journal of a run: what the next run needs to roll a killed one back, or to complete it once it
//! was committing, kept as JSON in the package's work directory (`transaction.json`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// What the journal records: enough to roll a killed run back, or forward once it was committing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Journal {
    /// The venv directory.
    pub(super) root: PathBuf,
    /// The outputs are being renamed into place: the run is committed, and is completed, not undone.
    pub(super) committing: bool,
    /// The venv directory existed before the run, and is kept in `before` until the commit.
    pub(super) before: bool,
    /// How many directories (the venv directory and its missing ancestors) the run creates.
    pub(super) created: usize,
    /// `before` holds the files put in the directory before a venv was built there: at the commit it
    /// becomes `preexisting`.
    pub(super) fresh: bool,
    /// The directory debug files for the -dbgsym package go to (`debian/.debhelper/<package>/dbgsym-root`).
    pub(super) debug_dir: PathBuf,
    /// What it held when the run began (paths relative to it): anything else a roll-back removes.
    pub(super) debug_before: Vec<PathBuf>,
    /// The directories the outputs are staged in, beside their targets: a roll-back removes the
    /// temporaries a killed run left there.
    pub(super) output_dirs: Vec<PathBuf>,
    /// The outputs' (temporary, target) pairs while committing.
    pub(super) outputs: Vec<(PathBuf, PathBuf)>,
}

impl Journal {
    /// The journal as JSON; paths under `top` are written relative to it, so that a copy of the source
    /// tree never acts on the original's files.
    pub(super) fn to_json(&self, top: &Path) -> String {
        let path = |p: &Path| crate::snapshot::hex(relative(p, top).as_os_str().as_encoded_bytes());
        let value = json!({
            "root": path(&self.root),
            "committing": self.committing,
            "before": self.before,
            "created": self.created,
            "fresh": self.fresh,
            "debug_dir": path(&self.debug_dir),
            "debug_before": self
                .debug_before
                .iter()
                .map(|p| crate::snapshot::hex(p.as_os_str().as_encoded_bytes()))
                .collect::<Vec<_>>(),
            "output_dirs": self.output_dirs.iter().map(|p| path(p)).collect::<Vec<_>>(),
            "outputs": self
                .outputs
                .iter()
                .map(|(t, p)| (path(t), path(p)))
                .collect::<Vec<_>>(),
        });
        format!("{value:#}\n")
    }

    /// Reads what [`Journal::to_json`] wrote; None when it is not a journal.
    pub(super) fn from_json(text: &str, top: &Path) -> Option<Journal> {
        use std::os::unix::ffi::OsStrExt;
        let value: Value = serde_json::from_str(text).ok()?;
        let path = |v: &Value| -> Option<PathBuf> {
            let bytes = crate::snapshot::unhex(v.as_str()?)?;
            Some(top.join(std::ffi::OsStr::from_bytes(&bytes)))
        };
        let outputs = value
            .get("outputs")?
            .as_array()?
            .iter()
            .map(|pair| match pair.as_array()?.as_slice() {
                [t, p] => Some((path(t)?, path(p)?)),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(Journal {
            root: path(value.get("root")?)?,
            committing: value.get("committing")?.as_bool()?,
            before: value.get("before")?.as_bool()?,
            created: usize::try_from(value.get("created")?.as_u64()?).ok()?,
            fresh: value.get("fresh")?.as_bool()?,
            debug_dir: path(value.get("debug_dir")?)?,
            debug_before: value
                .get("debug_before")?
                .as_array()?
                .iter()
                .map(|v| {
                    let bytes = crate::snapshot::unhex(v.as_str()?)?;
                    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
                })
                .collect::<Option<_>>()?,
            output_dirs: value
                .get("output_dirs")?
                .as_array()?
                .iter()
                .map(path)
                .collect::<Option<_>>()?,
            outputs,
        })
    }
}

/// `path` relative to `top` when it is inside it, else as it is.
pub(super) fn relative(path: &Path, top: &Path) -> PathBuf {
    path.strip_prefix(top).unwrap_or(path).to_path_buf()
}
