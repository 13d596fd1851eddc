//! Interrupts: SIGINT, SIGTERM and SIGHUP (a Ctrl-C, an sbuild time-out, a closed terminal) end a run
//! cleanly.
//!
//! [`Interrupts::listen`] starts a thread that waits for those signals. Every external command runs in
//! dh_rustvenv's own process group, so a signal sent to the build's group (`kill -- -PGID`, a
//! terminal's Ctrl-C) reaches pip and whatever it started as well; and [`Interrupts`] knows the
//! process of each command while it runs. On a signal sent to dh_rustvenv alone, the thread records it
//! and sends SIGTERM to each of those processes and to all their descendants, found through `/proc`
//! ([`descendants`]), so pip and the compilers and build backends it started stop. The command then
//! fails, [`Interrupts::check`] turns that failure into an [`Interrupted`] error, and the ordinary
//! failure path does the cleaning: the venv and every partial output are removed, files that were in
//! the venv directory before are put back, and what the build left in the source tree is removed. A
//! second signal ends the process at once.
//!
//! When dh_rustvenv itself is killed with SIGKILL (the OOM killer), nothing here runs: the command it
//! was running gets SIGKILL from the kernel instead ([`crate::command`] sets its parent-death signal).
//!
//! This is the one piece of state shared between threads: the signal, and the processes of the
//! commands running. It lives in an `Arc` that debhelper's `Reporter` carries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The signal that interrupted a run, as an error: "interrupted by SIGTERM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {}; the venv and what was written for it are removed", signal_name(*.0))]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// The exit status of a process ended by this signal, as shells report it (128 + N).
    pub fn exit_status(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(255)
    }
}

/// A signal's name as kill(1) prints it, for the three signals listened to; "signal N" for others.
fn signal_name(signal: i32) -> String {
    match signal {
        signal_hook::consts::SIGINT => "SIGINT".to_owned(),
        signal_hook::consts::SIGTERM => "SIGTERM".to_owned(),
        signal_hook::consts::SIGHUP => "SIGHUP".to_owned(),
        other => format!("signal {other}"),
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// The signal received, 0 before any.
    signal: AtomicI32,
    /// The processes of the commands running now.
    running: Mutex<BTreeSet<u32>>,
}

/// The signals a run has received and the commands it is running; cheap to clone. The default
/// listens to nothing (for tests and tools that handle signals themselves).
#[derive(Debug, Clone, Default)]
pub struct Interrupts {
    shared: Arc<Shared>,
}

impl Interrupts {
    /// Starts listening for SIGINT, SIGTERM and SIGHUP.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub fn listen() -> Result<Interrupts> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let interrupts = Interrupts::default();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .context("installing the signal handlers")?;
        let shared = Arc::clone(&interrupts.shared);
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if shared.signal.swap(signal, Ordering::SeqCst) != 0 {
                    // A second signal: no more waiting for the clean-up.
                    std::process::exit(Interrupted(signal).exit_status().into());
                }
                let running: Vec<u32> = shared
                    .running
                    .lock()
                    .map(|r| r.iter().copied().collect())
                    .unwrap_or_default();
                terminate_trees(&running);
            }
        });
        Ok(interrupts)
    }

    /// The signal received so far, if any.
    pub fn received(&self) -> Option<Interrupted> {
        match self.shared.signal.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(Interrupted(signal)),
        }
    }

    /// Fails with [`Interrupted`] once a signal was received.
    ///
    /// # Errors
    /// [`Interrupted`], naming the signal.
    pub fn check(&self) -> Result<()> {
        match self.received() {
            Some(interrupted) => Err(interrupted.into()),
            None => Ok(()),
        }
    }

    /// Records that a command runs as the process `pid`; a signal ends it and its descendants.
    pub fn started(&self, pid: u32) {
        if let Ok(mut running) = self.shared.running.lock() {
            running.insert(pid);
        }
    }

    /// Records that the command of process `pid` has ended.
    pub fn ended(&self, pid: u32) {
        if let Ok(mut running) = self.shared.running.lock() {
            running.remove(&pid);
        }
    }
}

/// Sends SIGTERM to each process of `roots` and to all their descendants. The whole tree is found
/// first and signalled after, because a process whose parent has ended is given to init and can no
/// longer be found from the root. A process that has just ended is no error: there is nothing left to
/// stop.
///
/// # Known limitations
/// A process started between the look at `/proc` and the signal, or one that left the tree before it
/// (a daemon that forked twice), is not reached.
fn terminate_trees(roots: &[u32]) {
    let mut tree: BTreeSet<u32> = roots.iter().copied().collect();
    tree.extend(descendants(roots));
    for pid in tree {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
}

/// The processes descended from those of `roots` (their children, their children's, and so on; not
/// the roots themselves), read from the parent process ids in `/proc/<pid>/stat`; empty when `/proc`
/// cannot be read. Every process is looked at once, for all the roots, so the answer is one moment's
/// tree.
///
/// `/proc/<pid>/task/<tid>/children` would name the children directly, but only on kernels built
/// with `CONFIG_PROC_CHILDREN`; the parent id is always there.
///
/// # References
/// proc(5): `/proc/pid/stat`, field 4 (`ppid`).
pub fn descendants(roots: &[u32]) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    for entry in entries {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end while it is looked at: skip it.
        let Ok(stat) = std::fs::read(entry.path().join("stat")) else {
            continue;
        };
        if let Some(ppid) = parent_of(&stat) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = BTreeSet::new();
    let mut todo = roots.to_vec();
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

/// The parent process id in the text of `/proc/<pid>/stat`: the second field after the command name,
/// which is in parentheses and may itself hold spaces and parentheses, so the last `)` ends it.
fn parent_of(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruption_reads_as_a_sentence_and_exits_as_shells_say() {
        let term = Interrupted(signal_hook::consts::SIGTERM);
        assert_eq!(
            term.to_string(),
            "interrupted by SIGTERM; the venv and what was written for it are removed"
        );
        assert_eq!(term.exit_status(), 143);
        assert_eq!(Interrupted(signal_hook::consts::SIGINT).exit_status(), 130);
        assert_eq!(
            Interrupted(signal_hook::consts::SIGHUP).to_string(),
            "interrupted by SIGHUP; the venv and what was written for it are removed"
        );
    }

    /// A `sleep`, in the test's process group, as every external command runs.
    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap()
    }

    /// Whether the process `pid` has ended: gone from /proc, or a zombie waiting to be reaped.
    fn has_ended(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        }
    }

    /// Waits up to ten seconds for `child` to end; None when it is still running.
    fn ended_within_seconds(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
        for _ in 0..100 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    #[test]
    fn the_parent_id_is_read_past_a_command_name_with_parentheses_and_spaces() {
        assert_eq!(parent_of(b"42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_of(b"42 (a) b) (c d) R 1234 42 42"), Some(1234));
        assert_eq!(parent_of(b"42 (sleep"), None);
        assert_eq!(parent_of(b""), None);
    }

    #[test]
    fn descendants_are_children_and_their_children() {
        // sh starts a sleep and waits for it: the sleep is the test's grandchild.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & wait"])
            .spawn()
            .unwrap();
        let mut below_shell = BTreeSet::new();
        for _ in 0..100 {
            below_shell = descendants(&[shell.id()]);
            if !below_shell.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let found = descendants(&[std::process::id()]);
        for pid in &below_shell {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
        let _ = shell.kill();
        let _ = shell.wait();
        assert!(found.contains(&shell.id()), "{found:?}");
        assert_eq!(below_shell.len(), 1, "{below_shell:?}");
        assert!(below_shell.is_subset(&found), "{below_shell:?} {found:?}");
        assert!(!found.contains(&std::process::id()));
        assert!(descendants(&[u32::MAX]).is_empty());
    }

    #[test]
    fn a_signal_ends_the_running_commands_and_their_descendants_and_the_run_fails_naming_it() {
        use std::os::unix::process::ExitStatusExt;
        // The only test that raises a signal: a second one would end the test process.
        let interrupts = Interrupts::listen().unwrap();
        assert!(interrupts.check().is_ok());
        assert_eq!(interrupts.received(), None);
        // A command that started a process of its own, as pip starts a build backend.
        let mut running = std::process::Command::new("sh")
            .args(["-c", "sleep 61 & wait"])
            .spawn()
            .unwrap();
        let mut grandchildren = BTreeSet::new();
        for _ in 0..100 {
            grandchildren = descendants(&[running.id()]);
            if !grandchildren.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut finished = sleeper();
        // The reporter carries a clone: what it records is what the listener sees.
        interrupts.clone().started(running.id());
        interrupts.started(finished.id());
        interrupts.ended(finished.id());

        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();

        let status = ended_within_seconds(&mut running);
        let mut grandchildren_left = grandchildren.clone();
        for _ in 0..100 {
            grandchildren_left.retain(|&pid| !has_ended(pid));
            if grandchildren_left.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let finished_status = finished.try_wait().unwrap();
        let _ = finished.kill();
        let _ = finished.wait();
        for pid in &grandchildren_left {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
        if status.is_none() {
            let _ = running.kill();
            let _ = running.wait();
        }
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(signal_hook::consts::SIGTERM),
            "the running command was not sent SIGTERM"
        );
        assert_eq!(grandchildren.len(), 1, "{grandchildren:?}");
        assert!(
            grandchildren_left.is_empty(),
            "what the command started is still running: {grandchildren_left:?}"
        );
        assert_eq!(
            finished_status, None,
            "a command that had ended was signalled"
        );
        let interrupted = Interrupted(signal_hook::consts::SIGHUP);
        assert_eq!(interrupts.received(), Some(interrupted));
        let error = interrupts.check().unwrap_err();
        assert_eq!(error.downcast_ref::<Interrupted>(), Some(&interrupted));
    }
}
