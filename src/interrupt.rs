//! Interrupts: SIGINT, SIGTERM and SIGHUP (a Ctrl-C, an sbuild time-out, a closed terminal) end a run
//! cleanly.
//!
//! [`Interrupts::listen`] starts a thread that waits for those signals. Every external command runs in
//! a process group of its own, which [`Interrupts`] knows while it runs; on a signal the thread
//! records it and sends SIGTERM to each of those groups, so pip and whatever it started (compilers,
//! build backends) stop. The command then fails, [`Interrupts::check`] turns that failure into an
//! [`Interrupted`] error, and the ordinary failure path does the cleaning: the venv and every partial
//! output are removed, files that were in the venv directory before are put back, and what the build
//! left in the source tree is removed. A second signal ends the process at once.
//!
//! This is the one piece of state shared between threads: the signal, and the process groups of the
//! commands running. It lives in an `Arc` that debhelper's `Reporter` carries.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, killpg};
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
    /// The process groups of the commands running now.
    groups: Mutex<BTreeSet<u32>>,
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
                let groups: Vec<u32> = shared
                    .groups
                    .lock()
                    .map(|g| g.iter().copied().collect())
                    .unwrap_or_default();
                for group in groups {
                    // A group that has just ended is no error: there is nothing left to stop.
                    if let Ok(group) = i32::try_from(group) {
                        let _ = killpg(Pid::from_raw(group), Signal::SIGTERM);
                    }
                }
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

    /// Records that a command runs in the process group `group`; a signal ends it.
    pub fn started(&self, group: u32) {
        if let Ok(mut groups) = self.shared.groups.lock() {
            groups.insert(group);
        }
    }

    /// Records that the command of process group `group` has ended.
    pub fn ended(&self, group: u32) {
        if let Ok(mut groups) = self.shared.groups.lock() {
            groups.remove(&group);
        }
    }
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

    /// A `sleep` in a process group of its own, as every external command runs.
    fn sleeper() -> std::process::Child {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap()
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
    fn a_signal_ends_the_running_commands_and_the_run_fails_naming_it() {
        use std::os::unix::process::ExitStatusExt;
        let interrupts = Interrupts::listen().unwrap();
        assert!(interrupts.check().is_ok());
        assert_eq!(interrupts.received(), None);
        let mut running = sleeper();
        let mut finished = sleeper();
        // The reporter carries a clone: what it records is what the listener sees.
        interrupts.clone().started(running.id());
        interrupts.started(finished.id());
        interrupts.ended(finished.id());

        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();

        let status = ended_within_seconds(&mut running);
        // The listener signals the groups one after the other: give it time to reach the other one.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let finished_status = finished.try_wait().unwrap();
        let _ = finished.kill();
        let _ = finished.wait();
        if status.is_none() {
            let _ = running.kill();
            let _ = running.wait();
        }
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(signal_hook::consts::SIGTERM),
            "the running command was not sent SIGTERM"
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
