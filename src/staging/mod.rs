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

mod files;
mod journal;
mod place;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::command::Command;
use crate::outputs::Outputs;
use crate::tree::remove_if_there;
use files::{
    collisions, copy_dir, installed_by, listing, move_dir, partial_name, remove_debug_files_since,
    remove_temporaries,
};
use journal::Journal;
pub use place::check_place;

/// The journal of a run, in the package's work directory.
const JOURNAL: &str = "transaction.json";
/// What the venv directory held before the run, in the package's work directory.
const BEFORE: &str = "before";
/// The files that were in the venv directory before dh_rustvenv first built a venv there.
const PREEXISTING: &str = "preexisting";

/// What a run does to the venv directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// dh_rustvenv: a new venv replaces what the directory holds, keeping the files put there before
    /// the first run.
    Rebuild,
    /// dh_rustvenv_finish: the venv is changed in place.
    Modify,
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
    /// (`debian/.debhelper/rustvenv/<package>`), `debug_dir` the directory of the -dbgsym package's
    /// files (`debian/.debhelper/<package>/dbgsym-root`: what the run adds there goes with a
    /// roll-back) and `top` the top of the source package. A journal
    /// left by a killed run is rolled back (or completed) first. For a [`Kind::Rebuild`], what the
    /// directory holds is moved aside and `root` does not exist when this returns; for a
    /// [`Kind::Modify`], a copy is made.
    ///
    /// # Errors
    /// When `root` is a file or a symlink (something in the way of the venv), or the directory cannot
    /// be moved or copied; nothing is changed then.
    pub fn begin(
        root: &Path,
        work_dir: &Path,
        debug_dir: &Path,
        top: &Path,
        kind: Kind,
    ) -> Result<Transaction> {
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
            debug_dir: debug_dir.to_path_buf(),
            debug_before: listing(debug_dir),
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

    /// Writes every output and keeps the venv: the outputs go to temporaries first, and only when all
    /// are written are they renamed into place; then what the directory held before is dropped.
    ///
    /// # Errors
    /// When an output cannot be written (a full disk): nothing is changed then, and dropping the
    /// transaction puts the venv directory back.
    pub fn commit(mut self, outputs: Outputs) -> Result<()> {
        let mut dirs: Vec<PathBuf> = outputs
            .paths()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        self.journal.output_dirs = dirs;
        self.write_journal()?;
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
    remove_debug_files_since(&journal.debug_dir, &journal.debug_before);
    for (temporary, _) in &journal.outputs {
        let _ = fs::remove_file(temporary);
    }
    for dir in &journal.output_dirs {
        remove_temporaries(dir);
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

#[cfg(test)]
pub(super) mod tests {
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

    pub(super) struct Fixture {
        pub(super) _dir: tempfile::TempDir,
        pub(super) top: PathBuf,
        pub(super) root: PathBuf,
        pub(super) work: PathBuf,
        pub(super) debug: PathBuf,
    }

    pub(super) fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("src");
        let root = top.join("debian/demo/opt/venvs/demo");
        let work = top.join("debian/.debhelper/rustvenv/demo");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/pre.conf"), "kept\n").unwrap();
        Fixture {
            _dir: dir,
            debug: top.join("debian/.debhelper/demo/dbgsym-root"),
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
            let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
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
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        t.commit(with_snapshot(&f.root)).unwrap();
        fs::create_dir_all(f.root.join("share/extra")).unwrap();
        fs::write(f.root.join("share/extra/added"), "added later\n").unwrap();
        let built = listing(&f.root);
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
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
            let _t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
            fs::create_dir_all(&f.root).unwrap();
            fs::write(f.root.join("half"), "").unwrap();
        }
        assert_eq!(listing(&f.root), built);
    }

    #[test]
    fn debug_files_and_staged_temporaries_of_a_killed_run_go_with_the_roll_back() {
        let f = fixture();
        let earlier = f.debug.join("usr/lib/debug/.build-id/aa/earlier.debug");
        fs::create_dir_all(earlier.parent().unwrap()).unwrap();
        fs::write(&earlier, "kept").unwrap();
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
        let new = f.debug.join("usr/lib/debug/.build-id/bb/new.debug");
        fs::create_dir_all(new.parent().unwrap()).unwrap();
        fs::write(&new, "debug").unwrap();
        fs::write(new.with_file_name(".new.debug.x.dh-rustvenv-tmp"), "").unwrap();
        let mut outputs = Outputs::new();
        outputs.write(f.top.join("debian/demo.substvars"), "x\n");
        let mut t = t;
        t.journal.output_dirs = vec![f.top.join("debian")];
        t.write_journal().unwrap();
        // Killed while staging its outputs: a temporary is left, and no destructor runs.
        crate::tree::write_temporary(&f.top.join("debian/demo.substvars"), b"x\n").unwrap();
        std::mem::forget(t);
        recover(&f.work, &f.top).unwrap();
        assert!(earlier.exists());
        assert!(!f.debug.join("usr/lib/debug/.build-id/bb").exists());
        let left: Vec<_> = fs::read_dir(f.top.join("debian"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| crate::tree::is_temporary(n))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_killed_run_is_rolled_back_by_the_next_one() {
        let f = fixture();
        let before = listing(&f.root);
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
        install(&f.root);
        t.restore_preexisting().unwrap();
        // SIGKILL: no destructor runs.
        std::mem::forget(t);
        assert!(f.work.join(JOURNAL).exists());
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
        drop(t);
        assert_eq!(listing(&f.root), before);
    }

    #[test]
    fn a_failed_modification_leaves_the_venv_as_it_was() {
        let f = fixture();
        install(&f.root);
        let before = listing(&f.root);
        {
            let _t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Modify).unwrap();
            crate::tree::replace(&f.root.join("bin/demo"), b"#!/changed\n").unwrap();
            fs::write(f.root.join("added"), "").unwrap();
        }
        assert_eq!(listing(&f.root), before);
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Modify).unwrap();
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
        let t = Transaction::begin(&f.root, &f.work, &f.debug, &f.top, Kind::Rebuild).unwrap();
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
}
