//! The staging transaction: a run changes the venv directory and writes its outputs all or nothing.
//!
//! A [`Transaction`] keeps what the venv directory held before the run in the package's work
//! directory (`debian/.debhelper/rustvenv/<package>/before`) and a journal beside it
//! (`transaction.json`), until every output is committed:
//!
//! - dh_rustvenv ([`Kind::Rebuild`]) moves the directory aside and builds a new venv in its place. The
//!   files that were in the directory before dh_rustvenv first built a venv there (put there by
//!   dh_install or an override target) are copied into the new venv once it is installed, and kept
//!   in `preexisting/` so that a second run without dh_prep keeps them too.
//! - dh_rustvenv_finish ([`Kind::Modify`]) changes the venv in place, after making a copy of it out of
//!   hard links (every writer replaces a file, never writes into it, so the copy stays as it was).
//!
//! On failure or interrupt, dropping the transaction puts the directory back exactly as it was and
//! removes the debug files written for the -dbgsym package. A run that was killed (SIGKILL, a power
//! cut) leaves the journal, and the next run of either program rolls it back first
//! ([`Transaction::begin`]), or completes it when it was killed while committing.
//!
//! [`check_place`] refuses a venv directory that leads out of the package build directory, so that
//! nothing is removed or rewritten outside the package tree.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::command::Command;
use crate::outputs::Outputs;

/// The journal of a run, in the package's work directory.
const JOURNAL: &str = "transaction.json";
/// What the venv directory held before the run, in the package's work directory.
const BEFORE: &str = "before";
/// The files that were in the venv directory before dh_rustvenv first built a venv there.
const PREEXISTING: &str = "preexisting";

/// Directories a package build directory may never be, nor be directly inside: wiping a venv there
/// would wipe the system's.
const SYSTEM_PARENTS: &[&str] = &[
    "/",
    "/usr",
    "/usr/local",
    "/usr/lib",
    "/usr/share",
    "/var",
    "/var/lib",
    "/etc",
    "/opt",
    "/home",
    "/srv",
    "/lib",
    "/boot",
];

/// What a run does to the venv directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// dh_rustvenv: a new venv replaces what the directory holds, keeping the files put there before
    /// the first run.
    Rebuild,
    /// dh_rustvenv_finish: the venv is changed in place.
    Modify,
}

/// What the journal records: enough to roll a killed run back, or forward once it was committing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Journal {
    /// The venv directory.
    root: PathBuf,
    /// The outputs are being renamed into place: the run is committed, and is completed, not undone.
    committing: bool,
    /// The venv directory existed before the run, and is kept in `before` until the commit.
    before: bool,
    /// How many directories (the venv directory and its missing ancestors) the run creates.
    created: usize,
    /// `before` holds the files put in the directory before a venv was built there: at the commit it
    /// becomes `preexisting`.
    fresh: bool,
    /// Files written outside the venv for it (debug files for the -dbgsym package).
    outside: Vec<PathBuf>,
    /// The outputs' (temporary, target) pairs while committing.
    outputs: Vec<(PathBuf, PathBuf)>,
}

impl Journal {
    /// The journal as JSON; paths under `top` are written relative to it, so that a copy of the source
    /// tree never acts on the original's files.
    fn to_json(&self, top: &Path) -> String {
        let path = |p: &Path| crate::snapshot::hex(relative(p, top).as_os_str().as_encoded_bytes());
        let value = json!({
            "root": path(&self.root),
            "committing": self.committing,
            "before": self.before,
            "created": self.created,
            "fresh": self.fresh,
            "outside": self.outside.iter().map(|p| path(p)).collect::<Vec<_>>(),
            "outputs": self
                .outputs
                .iter()
                .map(|(t, p)| (path(t), path(p)))
                .collect::<Vec<_>>(),
        });
        format!("{value:#}\n")
    }

    /// Reads what [`Journal::to_json`] wrote; None when it is not a journal.
    fn from_json(text: &str, top: &Path) -> Option<Journal> {
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
            outside: value
                .get("outside")?
                .as_array()?
                .iter()
                .map(path)
                .collect::<Option<_>>()?,
            outputs,
        })
    }
}

/// `path` relative to `top` when it is inside it, else as it is.
fn relative(path: &Path, top: &Path) -> PathBuf {
    path.strip_prefix(top).unwrap_or(path).to_path_buf()
}

/// One run's change to a venv directory and its outputs; dropped without [`Transaction::commit`], it
/// puts everything back.
#[derive(Debug)]
pub struct Transaction {
    work_dir: PathBuf,
    top: PathBuf,
    journal: Journal,
    /// Where the files to copy into the new venv are (a [`Kind::Rebuild`]).
    preexisting: Option<PathBuf>,
    /// What was added to the earlier venv since its last run (relative paths under `before`), which a
    /// [`Kind::Rebuild`] keeps too.
    added: Vec<PathBuf>,
    done: bool,
}

impl Transaction {
    /// Starts a run on the venv directory `root`, with `work_dir` the package's work directory
    /// (`debian/.debhelper/rustvenv/<package>`) and `top` the top of the source package. A journal
    /// left by a killed run is rolled back (or completed) first. For a [`Kind::Rebuild`], what the
    /// directory holds is moved aside and `root` does not exist when this returns; for a
    /// [`Kind::Modify`], a copy is made.
    ///
    /// # Errors
    /// When `root` is a file or a symlink (something in the way of the venv), or the directory cannot
    /// be moved or copied; nothing is changed then.
    pub fn begin(root: &Path, work_dir: &Path, top: &Path, kind: Kind) -> Result<Transaction> {
        recover(work_dir, top)?;
        let exists = fs::symlink_metadata(root).is_ok();
        if exists && (root.is_symlink() || !root.is_dir()) {
            bail!(
                "{} is in the way of the venv: it is not a directory (a file or a symlink put there \
                 before dh_rustvenv ran, by dh_install, dh_link or an override target); install it \
                 elsewhere, or choose another place for the venv with --install-suffix",
                root.display()
            );
        }
        fs::create_dir_all(work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
        let earlier_venv = exists && root.join("pyvenv.cfg").is_file();
        let journal = Journal {
            root: root.to_path_buf(),
            before: exists,
            created: root.ancestors().take_while(|d| !d.exists()).count(),
            fresh: kind == Kind::Rebuild && !earlier_venv,
            ..Journal::default()
        };
        let mut transaction = Transaction {
            work_dir: work_dir.to_path_buf(),
            top: top.to_path_buf(),
            journal,
            preexisting: None,
            added: Vec::new(),
            done: false,
        };
        transaction.write_journal()?;
        let before = work_dir.join(BEFORE);
        match kind {
            Kind::Rebuild if exists => {
                move_dir(root, &before)?;
                if earlier_venv {
                    transaction.preexisting =
                        Some(work_dir.join(PREEXISTING)).filter(|p| p.is_dir());
                    transaction.added = added_since_last_run(&before, work_dir)?;
                } else {
                    transaction.preexisting = Some(before);
                }
            }
            Kind::Rebuild => {}
            Kind::Modify => copy_dir(root, &before, true)?,
        }
        Ok(transaction)
    }

    /// Copies the files that were in the venv directory before the venv was built there into the
    /// installed venv.
    ///
    /// # Errors
    /// When pip installed a file where an earlier one stood: the message names both, and the
    /// distribution that installed it; or when the copy fails.
    pub fn restore_preexisting(&self) -> Result<()> {
        let root = &self.journal.root;
        if !self.added.is_empty() {
            let before = self.work_dir.join(BEFORE);
            let mut found = Vec::new();
            for relative in &self.added {
                let entry = before.join(relative);
                if fs::symlink_metadata(root.join(relative)).is_ok() {
                    found.push(root.join(relative));
                } else if entry.is_dir() && !entry.is_symlink() {
                    found.extend(collisions(&entry, &root.join(relative))?);
                }
            }
            self.refuse_collision(found.first())?;
            let copied = Command::new("cp")
                .args(["-a", "--parents", "--"])
                .args(&self.added)
                .arg(root)
                .dir(&before)
                .capture()?;
            if !copied.0 {
                bail!(
                    "copying what was added to the venv since the last run back into {}: {}",
                    root.display(),
                    copied.1.trim()
                );
            }
        }
        let Some(from) = &self.preexisting else {
            return Ok(());
        };
        self.refuse_collision(collisions(from, root)?.first())?;
        self.copy_preexisting(from)
    }

    /// The error for a file that was in the venv directory before, where pip installed one.
    fn refuse_collision(&self, path: Option<&PathBuf>) -> Result<()> {
        let Some(path) = path else {
            return Ok(());
        };
        let owner = installed_by(&self.journal.root, path)
            .map(|d| format!(" (from the distribution {d})"))
            .unwrap_or_default();
        bail!(
            "{} was in the venv directory before the venv was created (put there by dh_install or an \
             earlier override target), and pip installed {}{owner} as well; install your file \
             under another name, or after dh_rustvenv (in an override_dh_rustvenv target)",
            path.display(),
            path.display(),
        );
    }

    /// Copies what the venv directory held before (the files put there before the first run) into the
    /// new venv.
    fn copy_preexisting(&self, from: &Path) -> Result<()> {
        let root = &self.journal.root;
        let mut source = from.as_os_str().to_os_string();
        source.push("/.");
        let copied = Command::new("cp")
            .arg("-a")
            .arg("--")
            .arg(source)
            .arg(root)
            .capture()?;
        if !copied.0 {
            bail!(
                "copying the files that were in the venv directory back into {}: {}",
                root.display(),
                copied.1.trim()
            );
        }
        Ok(())
    }

    /// Records files written outside the venv for it (debug files for the -dbgsym package), which a
    /// roll-back removes.
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub fn add_outside(&mut self, files: &[PathBuf]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        self.journal.outside.extend(files.iter().cloned());
        self.write_journal()
    }

    /// Writes every output and keeps the venv: the outputs go to temporaries first, and only when all
    /// are written are they renamed into place; then what the directory held before is dropped.
    ///
    /// # Errors
    /// When an output cannot be written (a full disk): nothing is changed then, and dropping the
    /// transaction puts the venv directory back.
    pub fn commit(mut self, outputs: Outputs) -> Result<()> {
        let staged = outputs.stage()?;
        self.journal.committing = true;
        self.journal.outputs = staged.pairs().to_vec();
        if let Err(e) = self.write_journal() {
            self.journal.committing = false;
            self.journal.outputs.clear();
            return Err(e);
        }
        // From here on the run is committed: a failure is completed by the next run, not undone.
        self.done = true;
        let renamed = staged.commit();
        complete(&self.work_dir, &self.journal)?;
        renamed
    }

    fn write_journal(&self) -> Result<()> {
        crate::tree::replace(
            &self.work_dir.join(JOURNAL),
            self.journal.to_json(&self.top).as_bytes(),
        )
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.done {
            let _ = roll_back(&self.work_dir, &self.journal);
        }
    }
}

/// What was added to the venv kept in `before` since the last run of either program committed (the
/// entries its snapshot does not list); nothing when there is no snapshot.
fn added_since_last_run(before: &Path, work_dir: &Path) -> Result<Vec<PathBuf>> {
    let (_, snapshot_file) = crate::state::state_files(work_dir);
    let Ok(text) = fs::read_to_string(&snapshot_file) else {
        return Ok(Vec::new());
    };
    let Ok(earlier) = crate::snapshot::Snapshot::from_text(&text) else {
        return Ok(Vec::new());
    };
    Ok(crate::snapshot::Snapshot::take(before)?.added_since(&earlier))
}

/// Finishes a committed run: what the directory held before becomes the pre-existing files (a first
/// build) or is removed, and the journal goes last.
fn complete(work_dir: &Path, journal: &Journal) -> Result<()> {
    for (temporary, target) in &journal.outputs {
        if fs::symlink_metadata(temporary).is_ok() {
            fs::rename(temporary, target)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    let before = work_dir.join(BEFORE);
    let preexisting = work_dir.join(PREEXISTING);
    if journal.fresh {
        remove_if_there(&preexisting)?;
        if before.exists() {
            fs::rename(&before, &preexisting).with_context(|| {
                format!("moving {} to {}", before.display(), preexisting.display())
            })?;
        }
    } else {
        remove_if_there(&before)?;
    }
    remove_if_there(&work_dir.join(JOURNAL))
}

/// Puts the venv directory back as the journal says it was, removes what the run wrote outside it,
/// and removes the journal.
fn roll_back(work_dir: &Path, journal: &Journal) -> Result<()> {
    let root = journal.root.as_path();
    crate::elf::remove_debug_files(&journal.outside);
    for (temporary, _) in &journal.outputs {
        let _ = fs::remove_file(temporary);
    }
    let before = work_dir.join(BEFORE);
    remove_if_there(&partial_name(&before))?;
    remove_if_there(&partial_name(root))?;
    if before.exists() {
        remove_if_there(root)?;
        move_dir(&before, root)?;
    } else if !journal.before {
        remove_if_there(root)?;
        for dir in root
            .ancestors()
            .skip(1)
            .take(journal.created.saturating_sub(1))
        {
            // Only while they are empty: something else may have been put there since.
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    // Else the run was killed before it moved anything: the directory is as it was.
    remove_if_there(&work_dir.join(JOURNAL))
}

/// Rolls back (or completes) a run of either program that was killed, as the journal it left in the
/// package's work directory `work_dir` says; removes what such a run left there without a journal.
/// [`Transaction::begin`] does this first; dh_rustvenv_finish does it before it reads the state.
///
/// # Errors
/// When the journal cannot be read, or the venv directory cannot be put back.
pub fn recover(work_dir: &Path, top: &Path) -> Result<()> {
    let path = work_dir.join(JOURNAL);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A run killed after its commit, before it tidied up.
            remove_if_there(&partial_name(&work_dir.join(BEFORE)))?;
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let Some(journal) = Journal::from_json(&text, top) else {
        bail!(
            "{} is not a journal dh_rustvenv wrote; run dh_clean and build again",
            path.display()
        );
    };
    if journal.committing {
        complete(work_dir, &journal)
    } else {
        roll_back(work_dir, &journal)
    }
    .with_context(|| {
        format!(
            "recovering from an earlier run that was killed (its journal is {})",
            path.display()
        )
    })
}

/// Refuses a venv directory `root` that would take the run out of the package tree: its real path
/// (symlinks resolved) must be inside the package build directory `build_dir`; that must be inside
/// the source package `top` unless it was given explicitly (`-P`), and never `/` or a system
/// directory (`/usr`, `/opt`, `/var/lib`, …) or directly inside one.
///
/// # Errors
/// The one it breaks, naming the directory and the symlink's real path.
pub fn check_place(root: &Path, build_dir: &Path, top: &Path, explicit: bool) -> Result<()> {
    let build_real = real_path(build_dir);
    let system = SYSTEM_PARENTS
        .iter()
        .map(Path::new)
        .any(|dir| build_real == dir || build_real.parent() == Some(dir));
    if system {
        bail!(
            "the package build directory {} is {}, a system directory: dh_rustvenv builds the venv \
             there and would remove one it finds; give -P a directory of its own inside the source \
             package",
            build_dir.display(),
            build_real.display()
        );
    }
    let top_real = real_path(top);
    if !explicit && !build_real.starts_with(&top_real) {
        bail!(
            "the package build directory {} leads out of the source package {} (its real path is {}, \
             through a symlink); remove the symlink, or give the directory with -P if it is meant",
            build_dir.display(),
            top.display(),
            build_real.display()
        );
    }
    let root_real = real_path(root);
    if !root_real.starts_with(&build_real) || root_real == build_real {
        bail!(
            "the venv directory {} leads out of the package build directory {} (its real path is {}, \
             through a symlink on the way); dh_rustvenv removes and rebuilds what is there, so it \
             refuses: remove the symlink (dh_link's links belong after dh_rustvenv)",
            root.display(),
            build_dir.display(),
            root_real.display()
        );
    }
    Ok(())
}

/// `path` with symlinks resolved as far as it exists, and the rest appended as written.
fn real_path(path: &Path) -> PathBuf {
    let path = crate::tree::normalize(path);
    for existing in path.ancestors() {
        if let Ok(real) = fs::canonicalize(existing) {
            let rest = path.strip_prefix(existing).unwrap_or(Path::new(""));
            return crate::tree::normalize(&real.join(rest));
        }
    }
    path
}

/// Where [`move_dir`] and [`copy_dir`] copy to before the copy is complete: `.<name>.dh-rustvenv-partial`
/// beside `to`.
fn partial_name(to: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(to.file_name().unwrap_or_default());
    name.push(".dh-rustvenv-partial");
    to.with_file_name(name)
}

/// Moves the directory `from` to `to` (which must not exist): a rename, or when they are on different
/// file systems, a copy that is renamed into place once complete, then `from` removed.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EXDEV as i32) => {
            copy_dir(from, to, false)?;
            fs::remove_dir_all(from).with_context(|| format!("removing {}", from.display()))
        }
        Err(e) => Err(e).with_context(|| format!("moving {} to {}", from.display(), to.display())),
    }
}

/// Copies the directory `from` to `to` (which must not exist), with `cp -a`: out of hard links when
/// `link` (falling back to a copy across file systems), through a partial copy renamed into place.
fn copy_dir(from: &Path, to: &Path, link: bool) -> Result<()> {
    let partial = partial_name(to);
    let attempt = |link: bool| -> Result<(bool, String)> {
        remove_if_there(&partial)?;
        let flags = if link { "-al" } else { "-a" };
        Command::new("cp")
            .arg(flags)
            .arg("--")
            .arg(from)
            .arg(&partial)
            .capture()
    };
    let mut copied = attempt(link)?;
    if link && !copied.0 {
        copied = attempt(false)?;
    }
    if !copied.0 {
        let _ = fs::remove_dir_all(&partial);
        bail!(
            "copying {} to {}: {}",
            from.display(),
            to.display(),
            copied.1.trim()
        );
    }
    fs::rename(&partial, to)
        .with_context(|| format!("moving {} to {}", partial.display(), to.display()))
}

/// Removes the file, symlink or directory tree at `path`, if there is one (a symlink is removed, never
/// followed).
fn remove_if_there(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
        }
        Ok(_) => fs::remove_file(path).with_context(|| format!("removing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The entries of the tree `to` that an entry of the tree `from` would replace if the two were merged
/// (a directory merges with a directory; anything else collides).
fn collisions(from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in crate::tree::walk(from).skip(1) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        if relative.components().any(|c| c == Component::ParentDir) {
            continue;
        }
        let target = to.join(relative);
        let collides = fs::symlink_metadata(&target)
            .is_ok_and(|existing| !(entry.file_type().is_dir() && existing.is_dir()));
        if collides {
            found.push(target);
        }
    }
    Ok(found)
}

/// The name of the installed distribution whose RECORD lists `path` (PEP 376), if any.
fn installed_by(venv: &Path, path: &Path) -> Option<String> {
    let lib = venv.join("lib");
    for entry in crate::tree::walk(&lib).filter_map(|e| e.ok()) {
        let record = entry.path();
        if record.file_name().is_none_or(|n| n != "RECORD") {
            continue;
        }
        let dist_info = record.parent()?;
        let base = dist_info.parent()?;
        if crate::record::lists(record, base, path).unwrap_or(false) {
            let name = dist_info.file_name()?.to_string_lossy();
            return Some(name.trim_end_matches(".dist-info").to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `dir` with its content, for comparing trees.
    fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        crate::tree::walk(dir)
            .filter_map(|e| e.ok())
            .map(|e| {
                let content = fs::read(e.path()).unwrap_or_default();
                (e.path().strip_prefix(dir).unwrap().to_path_buf(), content)
            })
            .collect()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        top: PathBuf,
        root: PathBuf,
        work: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("src");
        let root = top.join("debian/demo/opt/venvs/demo");
        let work = top.join("debian/.debhelper/rustvenv/demo");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/pre.conf"), "kept\n").unwrap();
        Fixture {
            _dir: dir,
            top,
            root,
            work,
        }
    }

    /// What pip would leave: a venv in `root`.
    fn install(root: &Path) {
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        fs::write(root.join("bin/demo"), "#!/opt/venvs/demo/bin/python\n").unwrap();
    }

    #[test]
    fn files_put_there_before_survive_a_failure_after_they_were_merged_and_a_second_run() {
        let f = fixture();
        let before = listing(&f.root);
        {
            let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
            assert!(!f.root.exists());
            install(&f.root);
            t.restore_preexisting().unwrap();
            assert_eq!(
                fs::read_to_string(f.root.join("etc/pre.conf")).unwrap(),
                "kept\n"
            );
            // A later stage fails: the transaction is dropped.
        }
        assert_eq!(listing(&f.root), before);
        assert!(!f.work.join(JOURNAL).exists());

        // A successful run, then a second one without dh_prep, after rules added a file.
        let with_snapshot = |root: &Path| {
            let mut outputs = Outputs::new();
            let snapshot = crate::snapshot::Snapshot::take(root).unwrap();
            outputs.write(f.work.join("snapshot"), snapshot.to_text());
            outputs
        };
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        t.commit(with_snapshot(&f.root)).unwrap();
        fs::create_dir_all(f.root.join("share/extra")).unwrap();
        fs::write(f.root.join("share/extra/added"), "added later\n").unwrap();
        let built = listing(&f.root);
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        t.commit(with_snapshot(&f.root)).unwrap();
        assert_eq!(listing(&f.root), built);
        assert_eq!(
            fs::read_to_string(f.root.join("etc/pre.conf")).unwrap(),
            "kept\n"
        );
        // A failed third run leaves the second's venv.
        {
            let _t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
            fs::create_dir_all(&f.root).unwrap();
            fs::write(f.root.join("half"), "").unwrap();
        }
        assert_eq!(listing(&f.root), built);
    }

    #[test]
    fn a_killed_run_is_rolled_back_by_the_next_one() {
        let f = fixture();
        let before = listing(&f.root);
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        // SIGKILL: no destructor runs.
        std::mem::forget(t);
        assert!(f.work.join(JOURNAL).exists());
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
        drop(t);
        assert_eq!(listing(&f.root), before);
    }

    #[test]
    fn a_failed_modification_leaves_the_venv_as_it_was() {
        let f = fixture();
        install(&f.root);
        let before = listing(&f.root);
        {
            let _t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Modify).unwrap();
            crate::tree::replace(&f.root.join("bin/demo"), b"#!/changed\n").unwrap();
            fs::write(f.root.join("added"), "").unwrap();
        }
        assert_eq!(listing(&f.root), before);
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Modify).unwrap();
        crate::tree::replace(&f.root.join("bin/demo"), b"#!/changed\n").unwrap();
        t.commit(Outputs::new()).unwrap();
        assert_eq!(fs::read(f.root.join("bin/demo")).unwrap(), b"#!/changed\n");
        assert!(!f.work.join(BEFORE).exists());
    }

    #[test]
    fn outputs_that_cannot_be_written_change_nothing() {
        let f = fixture();
        let before = listing(&f.root);
        let substvars = f.top.join("debian/demo.substvars");
        fs::write(&substvars, "misc:Depends=adduser\n").unwrap();
        let t = Transaction::begin(&f.root, &f.work, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        let mut outputs = Outputs::new();
        outputs.write(substvars.clone(), "rustvenv:Depends=python3.11\n");
        fs::write(f.top.join("debian/blocked"), "").unwrap();
        outputs.write(f.top.join("debian/blocked/x"), "x");
        assert!(t.commit(outputs).is_err());
        assert_eq!(listing(&f.root), before);
        assert_eq!(
            fs::read_to_string(&substvars).unwrap(),
            "misc:Depends=adduser\n"
        );
    }

    #[test]
    fn a_venv_directory_leading_out_of_the_package_tree_is_refused() {
        let f = fixture();
        let outside = f._dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        let build = f.top.join("debian/demo");
        check_place(&f.root, &build, &f.top, false).unwrap();
        fs::remove_dir_all(build.join("opt")).unwrap();
        std::os::unix::fs::symlink(&outside, build.join("opt")).unwrap();
        let error = check_place(&f.root, &build, &f.top, false).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("leads out of the package build directory")
        );
        let error =
            check_place(Path::new("/opt/venvs/demo"), Path::new("/"), &f.top, true).unwrap_err();
        assert!(error.to_string().contains("a system directory"), "{error}");
        assert!(
            check_place(
                Path::new("/usr/x/opt/venvs/d"),
                Path::new("/usr/x"),
                &f.top,
                true
            )
            .is_err()
        );
        let elsewhere = outside.join("pkg");
        assert!(check_place(&elsewhere.join("opt/venvs/d"), &elsewhere, &f.top, false).is_err());
        check_place(&elsewhere.join("opt/venvs/d"), &elsewhere, &f.top, true).unwrap();
    }
}
