//! Running a program: its argument vector, working directory and environment; echoing it as a shell
//! would read it; tying its life to dh_rustvenv's; and the one error type for what can go wrong
//! ([`CommandError`]).
//!
//! A command runs in dh_rustvenv's own process group, so a signal sent to the build's group (a
//! time-out's `kill -KILL -- -PGID`) ends it with dh_rustvenv, and with the parent-death signal
//! SIGKILL, so it also ends when dh_rustvenv alone is killed (the OOM killer). A signal that
//! dh_rustvenv itself receives is passed on by [`crate::interrupt`].
//!
//! Built on duct, which handles the pipes. debhelper's `doit` (echo under `-v`, skip under
//! `--no-act`) is the debhelper reporter's `doit`, which runs a [`Command`] from here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::interrupt::Interrupts;

/// How many of a failed command's last output lines are shown before the error (the rest is shown with
/// `--verbose`).
const OUTPUT_TAIL_LINES: usize = 25;

/// How much of a command's own output dh_rustvenv shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// All of it, on stderr, as it comes (verbose).
    Everything,
    /// Its last lines, and only when it fails (the default).
    TailOnFailure,
    /// None of it (quiet).
    Nothing,
}

/// Why a command did not succeed: the one error type of this module, for callers that can say more
/// about a failure than its message (pip's hash errors, a tool that is not installed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    /// The command could not be started at all (not installed, not executable):
    /// "could not start `program`: `<io error>`; is it installed, and in the build's PATH?".
    #[error("{message}")]
    NotStarted {
        /// The whole message.
        message: String,
    },
    /// The command ran and failed: "`pip` exited with status 1: `<its last error line>`", and
    /// everything it printed (stdout and stderr interleaved; empty when its output went to the
    /// terminal).
    #[error("{message}")]
    Failed {
        /// The one-line message.
        message: String,
        /// Everything the command printed.
        output: String,
    },
}

/// An external command: program, arguments, working directory and environment changes.
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(String, OsString)>,
    env_remove: Vec<String>,
    stdin: Option<Vec<u8>>,
}

impl Command {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<OsString>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Command {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Command {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the command in `dir`.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.dir = Some(dir.into());
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Command {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Feeds `bytes` to the command's standard input.
    pub fn stdin(mut self, bytes: Vec<u8>) -> Command {
        self.stdin = Some(bytes);
        self
    }

    /// Removes an environment variable for the command.
    pub fn env_remove(mut self, name: &str) -> Command {
        self.env_remove.push(name.to_owned());
        self
    }

    /// The error for a command that could not be started.
    fn not_started(&self, error: std::io::Error) -> anyhow::Error {
        CommandError::NotStarted {
            message: format!(
                "could not start `{}`: {error}; is it installed, and in the build's PATH?",
                self.program.to_string_lossy(),
            ),
        }
        .into()
    }

    /// The command as a shell would read it, for echoing and for error messages.
    pub fn display(&self) -> String {
        self.render(false)
    }

    /// [`Command::display`] for an error message: an argument of several lines (a `python -c`
    /// script) is cut to its first line and `...`, so that the error stays one line.
    fn display_brief(&self) -> String {
        self.render(true)
    }

    /// The words, shell-quoted and joined; with `brief`, each cut at its first newline.
    fn render(&self, brief: bool) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| {
                let word = w.to_string_lossy();
                match word.split_once('\n').filter(|_| brief) {
                    Some((first, _)) => format!("{}...", shell_quote(first)),
                    None => shell_quote(&word),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expression(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args)
            .unchecked()
            .before_spawn(|command| {
                die_with_parent(command);
                Ok(())
            });
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        for name in &self.env_remove {
            expr = expr.env_remove(name);
        }
        for (name, value) in &self.env {
            expr = expr.env(name, value);
        }
        if let Some(bytes) = &self.stdin {
            expr = expr.stdin_bytes(bytes.clone());
        }
        expr
    }

    /// Runs the command, showing as much of its output as `shown` says (on stderr). Its process is
    /// known to `interrupts` while it runs, so that a signal to dh_rustvenv stops it and what it
    /// started; it reads no terminal.
    ///
    /// # Errors
    /// A failure is a [`CommandError::Failed`] that keeps the captured output, or
    /// [`crate::interrupt::Interrupted`] when a signal stopped it.
    pub fn run(&self, shown: Shown, interrupts: &Interrupts) -> Result<()> {
        let inherit_output = shown == Shown::Everything;
        let mut expr = self.expression();
        if self.stdin.is_none() {
            expr = expr.stdin_null();
        }
        let expr = if inherit_output {
            expr.stdout_to_stderr()
        } else {
            expr.stderr_to_stdout().stdout_capture()
        };
        let handle = expr.start().map_err(|e| self.not_started(e))?;
        let pids = handle.pids();
        for pid in &pids {
            interrupts.started(*pid);
        }
        let output = handle.into_output();
        for pid in &pids {
            interrupts.ended(*pid);
        }
        let output = output.map_err(|e| self.not_started(e))?;
        if output.status.success() {
            return Ok(());
        }
        interrupts.check()?;
        let name = Path::new(&self.program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let status = match std::os::unix::process::ExitStatusExt::signal(&output.status) {
            Some(signal) => format!("was killed by signal {signal}"),
            None => format!("exited with status {}", output.status.code().unwrap_or(-1)),
        };
        if shown == Shown::TailOnFailure {
            // The whole output would drown the error; its end is what says what went wrong.
            let text = String::from_utf8_lossy(&output.stdout);
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..] {
                eprintln!("{line}");
            }
        }
        let tail = failure_summary(&output.stdout);
        let message = if tail.is_empty() {
            format!("`{}` {status}", self.display_brief())
        } else {
            format!("{name} {status}: {tail}")
        };
        Err(CommandError::Failed {
            message,
            output: String::from_utf8_lossy(&output.stdout).into_owned(),
        }
        .into())
    }

    /// Runs the command with stdout and stderr captured together, and returns whether it succeeded and
    /// what it printed; a failure is the caller's to judge.
    ///
    /// # Errors
    /// When the command cannot be started.
    pub fn capture(&self) -> Result<(bool, String)> {
        let output = self
            .expression()
            .stderr_to_stdout()
            .stdout_capture()
            .run()
            .map_err(|e| anyhow!("could not start `{}`: {e}", self.program.to_string_lossy()))?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ))
    }

    /// Runs a read-only query (not echoed, run even under no-act) and returns its stdout.
    ///
    /// # Errors
    /// As [`Command::run`].
    pub fn query(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.query_bytes()?).into_owned())
    }

    /// [`Command::query`], returning stdout as raw bytes.
    ///
    /// # Errors
    /// As [`Command::run`].
    pub fn query_bytes(&self) -> Result<Vec<u8>> {
        let output = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .run()
            .map_err(|e| self.not_started(e))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.trim();
            let said = if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            };
            bail!(
                "`{}` exited with status {}{said}",
                self.display_brief(),
                output.status.code().unwrap_or(-1),
            );
        }
        Ok(output.stdout)
    }
}

/// Makes the process `command` starts get SIGKILL when dh_rustvenv ends (PR_SET_PDEATHSIG), and fail
/// to start when dh_rustvenv has already ended by the time it runs.
///
/// SIGKILL rather than SIGTERM: the parent that would have read the command's output and cleaned up
/// after it is gone, so nothing is gained by letting the command finish what it does, and a command
/// can catch, ignore or outlive SIGTERM (a shell script with a trap, a build backend that handles it)
/// and go on writing into the package build directory. The signal reaches the command alone: what it
/// started itself does not inherit the setting (prctl(2)), and is ended by a signal to the build's
/// process group, or by [`crate::interrupt`] while dh_rustvenv lives.
///
/// The kernel sends the signal when the *thread* that started the process ends, not the process.
/// Commands are started from the main thread and from rayon's global pool (stripping), whose threads
/// live as long as the process; duct starts a process on the calling thread (its own threads only
/// write stdin and read output). A command started from a short-lived thread would be killed when
/// that thread ends.
///
/// # References
/// prctl(2), `PR_SET_PDEATHSIG`.
fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::Pid::this();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: prctl(2) and getppid(2) are system calls, and building an io::Error from an
    // errno allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            // dh_rustvenv ended before the setting took effect: the signal will never come.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// The part of a failed tool's output worth one error line: its last `ERROR:`/`error:` line if it has
/// one (pip's and the compilers' way of saying what went wrong), else its last non-empty line.
pub fn failure_summary(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let error_line = lines.iter().rev().find(|l| {
        let lower = l.to_ascii_lowercase();
        lower.starts_with("error:") || lower.contains(" error: ")
    });
    error_line
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_default()
}

/// Quotes a word for a POSIX shell when it needs quoting.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_summary_prefers_the_last_error_line() {
        let out = b"Looking in links: /w\nERROR: Could not find a version\nERROR: No matching distribution found for nosuch==1.0\n\n";
        assert_eq!(
            failure_summary(out),
            "ERROR: No matching distribution found for nosuch==1.0"
        );
        assert_eq!(failure_summary(b"one\ntwo\n"), "two");
    }

    #[test]
    fn a_failed_query_names_a_script_argument_by_its_first_line_only() {
        let err = Command::new("sh")
            .args(["-c", "exit 3\necho never\n"])
            .query()
            .unwrap_err();
        assert_eq!(err.to_string(), "`sh -c 'exit 3'...` exited with status 3");
    }

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("/usr/bin/python3.11"), "/usr/bin/python3.11");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
