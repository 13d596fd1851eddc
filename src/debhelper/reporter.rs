//! The reporter: how much to say and whether to act, as debhelper's `verbose_print`, `doit`,
//! `warning` and `nonquiet_print` do.

use anyhow::Result;

use super::TOOL;
use crate::command::{Command, Shown};

/// How much to say, and whether to act: the one handle every stage prints through.
///
/// stdout carries only what debhelper's PROGRAMMING.md allows: with `verbose`, each command that changes
/// the build tree, indented by one tab. Warnings and errors go to stderr as `dh_rustvenv: warning: …`.
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    /// Echo commands (`-v` or `DH_VERBOSE`), and let the tools' own output through.
    pub verbose: bool,
    /// Print what would be run, change nothing (`--no-act` or `DH_NO_ACT`).
    pub no_act: bool,
    /// Say less (`DH_QUIET` or `DEB_BUILD_OPTIONS=terse`): a failed command's output is not shown,
    /// only the error line.
    pub quiet: bool,
    /// The signals received and the commands running, so that an interrupted run stops its commands.
    pub interrupts: crate::interrupt::Interrupts,
    /// Report each stage's duration on stderr (`--timings`, `DH_RUSTVENV_TIMINGS`), under this
    /// program name (`dh_rustvenv`, `dh_rustvenv_finish`); None: no report.
    pub timings: Option<String>,
}

impl Reporter {
    /// Prints `dh_rustvenv: warning: <message>` on stderr.
    pub fn warning(&self, message: impl std::fmt::Display) {
        eprintln!("{TOOL}: warning: {message}");
    }

    /// Prints `dh_rustvenv: <message>` on stderr unless quiet: information the user should see once,
    /// such as where a dependency went and why (debhelper's `nonquiet_print`, on stderr as stdout
    /// carries only commands).
    pub fn note(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{TOOL}: {message}");
        }
    }

    /// Runs one stage of `package`'s pipeline and, when timings are asked for, prints how long it took
    /// on stderr, as `<program>: timing: <package>: <stage> <seconds>` (seconds with three decimals,
    /// wall-clock time), whether the stage succeeded or not.
    pub fn timed<T>(&self, package: &str, stage: &str, run: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let result = run();
        if let Some(program) = &self.timings {
            eprintln!(
                "{program}: timing: {package}: {stage} {:.3}",
                started.elapsed().as_secs_f64()
            );
        }
        result
    }

    /// Prints `message` on stdout, tab-indented, when verbose (debhelper's `verbose_print`).
    pub fn verbose_print(&self, message: impl std::fmt::Display) {
        if self.verbose {
            println!("\t{message}");
        }
    }

    /// Runs `command` as debhelper's `doit` does: echoed under verbose, skipped under no-act.
    ///
    /// Without verbose the command's stdout and stderr are captured and only shown when it fails.
    ///
    /// # Errors
    /// "could not start `cmd`: `<io error>`; is it installed…" when it cannot be spawned; "`cmd` exited with status
    /// N" or "`cmd` was killed by signal N", followed by the last lines of its output, when it fails.
    pub fn doit(&self, command: &Command) -> Result<()> {
        self.verbose_print(command.display());
        if self.no_act {
            return Ok(());
        }
        self.interrupts.check()?;
        let shown = if self.verbose {
            Shown::Everything
        } else if self.quiet {
            Shown::Nothing
        } else {
            Shown::TailOnFailure
        };
        command.run(shown, &self.interrupts)
    }
}
