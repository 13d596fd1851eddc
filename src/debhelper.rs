//! What debhelper owns: the environment it sets, the packages to act on, messages and commands, substvars
//! and maintainer-script snippets.
//!
//! This mirrors the parts of debhelper 13.11's `Dh_Lib.pm` that a dh_ program must honour (`init`,
//! `doit`/`verbose_print`, `error`/`warning`, `addsubstvar`, `autoscript`), and delegates the package
//! list to `dh_listpackages` so that `debian/control`, architectures and build profiles are read exactly
//! as every other dh_ program reads them. The environment is read once, in [`Environment::from_process`],
//! and handed forward; nothing here keeps global state.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

/// The program's name, as it appears at the start of every message.
pub const TOOL: &str = "dh_rustvenv";

/// How many of a failed command's last output lines are shown before the error (the rest is shown with
/// `--verbose`).
const OUTPUT_TAIL_LINES: usize = 25;

/// The environment variables dh_rustvenv reads, captured once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `DH_INTERNAL_OPTIONS`: options `dh` passes through an override target, separated by `\x1e`.
    pub dh_internal_options: Option<String>,
    /// `DH_OPTIONS`: options parsed before the command line.
    pub dh_options: Option<String>,
    /// `DH_VERBOSE`: any non-empty value turns on verbose output (debhelper(7)).
    pub dh_verbose: bool,
    /// `DH_QUIET`: any non-empty value makes output terser.
    pub dh_quiet: bool,
    /// `DH_NO_ACT`: any non-empty value is the same as `--no-act`.
    pub dh_no_act: bool,
    /// `DEB_BUILD_OPTIONS`, split on white space.
    pub build_options: Vec<String>,
    /// `DH_RUSTVENV_INSTALL_ROOT`: the directory venvs are installed under.
    pub install_root: Option<String>,
    /// The variables of dh-virtualenv 1.2.2: `DH_VIRTUALENV_INSTALL_ROOT`, which its sequence tool and
    /// its build system read, and those only its build system reads ([`crate::buildsystem`]).
    pub dh_virtualenv: DhVirtualenvEnvironment,
    /// `PATH`: where a `--python` given as a bare name (`python3`) is looked up.
    pub path: Option<OsString>,
    /// The compiler settings found in the environment (`CC`, `CXX`, `CFLAGS`, `CXXFLAGS`, `CPPFLAGS`,
    /// `LDFLAGS`), by name; the ones missing here are taken from `dpkg-buildflags` by the install stage.
    pub compiler_settings: Vec<(String, String)>,
    /// `DH_RUSTVENV_TIMINGS` set to a non-empty value: report how long each stage took, as
    /// `--timings` does.
    pub timings: bool,
}

/// The environment variables of dh-virtualenv 1.2.2, read where it reads them so that a debian/rules
/// written for it keeps working: `DH_VIRTUALENV_INSTALL_ROOT` by the sequence (`deployment.py`) and the
/// build system (`Buildsystem/dh_virtualenv.pm`); every other one by the build system only, so only a
/// `--buildsystem-destdir` run uses them ([`crate::buildsystem::Settings`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhVirtualenvEnvironment {
    /// `DH_VIRTUALENV_INSTALL_ROOT`: the install root (the drop-in reads it before
    /// `DH_RUSTVENV_INSTALL_ROOT`, dh_rustvenv after it).
    pub install_root: Option<String>,
    /// `DH_VIRTUALENV_INSTALL_SUFFIX` (build system only): the venv's name.
    pub install_suffix: Option<String>,
    /// `DH_REQUIREMENTS_FILE` (build system only): the requirements file.
    pub requirements_file: Option<String>,
    /// `DH_PIP_EXTRA_ARGS` (build system only), split on white space: given to the upgrades and the
    /// requirements install.
    pub pip_extra_args: Vec<String>,
    /// `DH_VIRTUALENV_ARGUMENTS` (build system only), split on white space: virtualenv's arguments.
    pub virtualenv_arguments: Vec<String>,
    /// `DH_UPGRADE_PIP` (build system only): when set, pip is upgraded first, to that version or
    /// (empty) the newest.
    pub upgrade_pip: Option<String>,
    /// `DH_UPGRADE_SETUPTOOLS`: likewise for setuptools.
    pub upgrade_setuptools: Option<String>,
    /// `DH_UPGRADE_WHEEL`: likewise for wheel.
    pub upgrade_wheel: Option<String>,
}

/// The environment variables that choose the C/C++ compiler and its flags for extension modules.
pub const COMPILER_VARIABLES: [&str; 6] =
    ["CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"];

impl Environment {
    /// Reads the variables above from the process environment.
    pub fn from_process() -> Environment {
        let var = |name: &str| std::env::var(name).ok();
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        let words = |name: &str| -> Vec<String> {
            var(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        Environment {
            dh_internal_options: var("DH_INTERNAL_OPTIONS"),
            dh_options: var("DH_OPTIONS"),
            dh_verbose: set("DH_VERBOSE"),
            dh_quiet: set("DH_QUIET"),
            dh_no_act: set("DH_NO_ACT"),
            build_options: var("DEB_BUILD_OPTIONS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            install_root: var("DH_RUSTVENV_INSTALL_ROOT").filter(|v| !v.is_empty()),
            dh_virtualenv: DhVirtualenvEnvironment {
                install_root: var("DH_VIRTUALENV_INSTALL_ROOT").filter(|v| !v.is_empty()),
                install_suffix: var("DH_VIRTUALENV_INSTALL_SUFFIX").filter(|v| !v.is_empty()),
                requirements_file: var("DH_REQUIREMENTS_FILE").filter(|v| !v.is_empty()),
                pip_extra_args: words("DH_PIP_EXTRA_ARGS"),
                virtualenv_arguments: words("DH_VIRTUALENV_ARGUMENTS"),
                upgrade_pip: var("DH_UPGRADE_PIP"),
                upgrade_setuptools: var("DH_UPGRADE_SETUPTOOLS"),
                upgrade_wheel: var("DH_UPGRADE_WHEEL"),
            },
            path: std::env::var_os("PATH"),
            compiler_settings: COMPILER_VARIABLES
                .iter()
                .filter_map(|name| var(name).map(|value| (name.to_string(), value)))
                .collect(),
            timings: set("DH_RUSTVENV_TIMINGS"),
        }
    }

    /// Whether `DEB_BUILD_OPTIONS` holds `name` (or `name=value`), as `Dh_Lib.pm`'s `get_buildoption`.
    pub fn build_option(&self, name: &str) -> bool {
        self.build_options.iter().any(|o| {
            o == name
                || o.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('='))
        })
    }
}

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
    /// "could not start `cmd`: <io error> (PATH=…)" when it cannot be spawned; "`cmd` exited with status
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

/// A command that ran and failed: the one-line message, and everything it printed (empty when its
/// output went to the terminal), for callers that can say more about the failure.
#[derive(Debug, Clone)]
pub struct CommandFailed {
    /// "`pip` exited with status 1: <its last error line>".
    pub message: String,
    /// stdout and stderr, interleaved.
    pub output: String,
}

impl std::fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandFailed {}

/// A command that could not be started at all (not installed, not executable).
#[derive(Debug, Clone)]
pub struct CommandNotStarted {
    /// "could not start `program`: <io error> (PATH=…)".
    pub message: String,
}

impl std::fmt::Display for CommandNotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandNotStarted {}

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
        CommandNotStarted {
            message: format!(
                "could not start `{}`: {error} (PATH={})",
                self.program.to_string_lossy(),
                std::env::var("PATH").unwrap_or_default()
            ),
        }
        .into()
    }

    /// The command as a shell would read it, for echoing and for error messages.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| shell_quote(&w.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expression(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args).unchecked();
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

    /// Runs the command, showing as much of its output as `shown` says (on stderr). It runs in a
    /// process group of its own, known to `interrupts` while it runs, and reads no terminal.
    ///
    /// # Errors
    /// As [`Reporter::doit`]; a failure is a [`CommandFailed`] that keeps the captured output, or
    /// [`crate::interrupt::Interrupted`] when a signal stopped it.
    pub fn run(&self, shown: Shown, interrupts: &crate::interrupt::Interrupts) -> Result<()> {
        let inherit_output = shown == Shown::Everything;
        let mut expr = self.expression().before_spawn(|command| {
            std::os::unix::process::CommandExt::process_group(command, 0);
            Ok(())
        });
        if self.stdin.is_none() {
            expr = expr.stdin_null();
        }
        let expr = if inherit_output {
            expr.stdout_to_stderr()
        } else {
            expr.stderr_to_stdout().stdout_capture()
        };
        let handle = expr.start().map_err(|e| self.not_started(e))?;
        let groups = handle.pids();
        for group in &groups {
            interrupts.started(*group);
        }
        let output = handle.into_output();
        for group in &groups {
            interrupts.ended(*group);
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
            format!("`{}` {status}", self.display())
        } else {
            format!("{name} {status}: {tail}")
        };
        Err(CommandFailed {
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
    /// As [`Reporter::doit`].
    pub fn query(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.query_bytes()?).into_owned())
    }

    /// [`Command::query`], returning stdout as raw bytes.
    ///
    /// # Errors
    /// As [`Reporter::doit`].
    pub fn query_bytes(&self) -> Result<Vec<u8>> {
        let output = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .run()
            .map_err(|e| self.not_started(e))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "`{}` exited with status {}: {}",
                self.display(),
                output.status.code().unwrap_or(-1),
                stderr.trim()
            );
        }
        Ok(output.stdout)
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

/// A binary package to act on, and its package build directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The binary package's name, from `debian/control`.
    pub name: String,
    /// The package build directory: `debian/<name>`, or the `-P`/`--tmpdir` directory.
    pub tmpdir: PathBuf,
    /// Whether debug information of its stripped files goes to an automatic `<name>-dbgsym` package,
    /// as dh_strip decides: the package is not `Architecture: all`, `debian/control` has no package of
    /// that name, and its own name does not end in `-dbg` or `-dbgsym`.
    pub automatic_dbgsym: bool,
    /// Whether it is the first package of `debian/control`, which may use `debian/<file>` for
    /// `debian/<name>.<file>`.
    pub main: bool,
    /// Its dh_rustvenv configuration file, [`Package::pkgfile`] of `rustvenv`.
    pub config_file: Option<PathBuf>,
    /// Its relation fields in `debian/control` ([`control_relations`]).
    pub relations: Relations,
}

/// The relation fields of one binary package in `debian/control` (Debian Policy 7.1: `Pre-Depends`,
/// `Depends`, `Recommends`, `Suggests`, `Enhances`, `Breaks`, `Conflicts`, `Provides`, `Replaces`,
/// `Built-Using`), each as written, continuation lines joined by a space, substvars unexpanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Field name to value, for the fields the package has.
    pub fields: BTreeMap<String, String>,
}

impl Relations {
    /// The fields that name the substvar `name` (`shlibs:Depends` for `${shlibs:Depends}`), in field
    /// name order: what dpkg-gencontrol will substitute it into. Empty: the substvar's value would be
    /// dropped, with dpkg-gencontrol's warning "substitution variable ${...} unused, but is defined".
    pub fn fields_naming(&self, name: &str) -> Vec<&str> {
        let wanted = format!("${{{name}}}");
        self.fields
            .iter()
            .filter(|(_, value)| value.contains(&wanted))
            .map(|(field, _)| field.as_str())
            .collect()
    }

    /// Whether any field names the substvar `name`.
    pub fn names(&self, name: &str) -> bool {
        !self.fields_naming(name).is_empty()
    }

    /// Whether `Depends`, `Pre-Depends` or `Recommends` names a Python 3 library package of Debian
    /// (`python3-*`, the names Debian Python Policy 2.2 gives them), or a substvar that carries them
    /// (`${python3:Depends}`).
    pub fn names_python3_package(&self) -> bool {
        ["Pre-Depends", "Depends", "Recommends"]
            .iter()
            .filter_map(|field| self.fields.get(*field))
            .any(|value| {
                value.contains("${python3:Depends}")
                    || value
                        .split([',', '|'])
                        .map(|item| item.trim_start())
                        .any(|item| item.starts_with("python3-"))
            })
    }
}

/// Reads the relation fields of every binary package of the control file `control`, by package name,
/// with dpkg's own parser (`Dpkg::Control::Info` of libdpkg-perl, which dpkg-gencontrol uses), so
/// that comments, continuation lines and field-name case are read as dpkg reads them.
///
/// # Errors
/// When perl cannot be run, or dpkg's parser rejects the file; the message names the file.
pub fn control_relations(control: &Path) -> Result<BTreeMap<String, Relations>> {
    const FIELDS: &str = "Pre-Depends Depends Recommends Suggests Enhances Breaks Conflicts \
                          Provides Replaces Built-Using";
    let script = format!(
        "use Dpkg::Control::Info; my $c = Dpkg::Control::Info->new(filename => $ARGV[0]); \
         foreach my $p ($c->get_packages()) {{ foreach my $f (qw({FIELDS})) {{ \
         next unless defined $p->{{$f}}; my $v = $p->{{$f}}; $v =~ s/\\s+/ /g; \
         print \"$p->{{Package}}\\t$f\\t$v\\n\"; }} }}"
    );
    let listing = Command::new("perl")
        .args(["-e", &script])
        .arg(control)
        .query()
        .with_context(|| format!("reading the relation fields of {}", control.display()))?;
    let mut packages: BTreeMap<String, Relations> = BTreeMap::new();
    for line in listing.lines() {
        let mut parts = line.splitn(3, '\t');
        if let (Some(package), Some(field), Some(value)) =
            (parts.next(), parts.next(), parts.next())
        {
            packages
                .entry(package.to_owned())
                .or_default()
                .fields
                .insert(field.to_owned(), value.trim().to_owned());
        }
    }
    Ok(packages)
}

impl Package {
    /// The package's debhelper file of that name, as `Dh_Lib.pm`'s `pkgfile` finds it:
    /// `debian/<name>.<file>`, or `debian/<file>` for the first package; None when neither exists.
    pub fn pkgfile(&self, file: &str) -> Option<PathBuf> {
        pkgfile(&self.name, self.main, file)
    }
}

fn pkgfile(name: &str, main: bool, file: &str) -> Option<PathBuf> {
    let own = PathBuf::from(format!("debian/{name}.{file}"));
    let shared = PathBuf::from(format!("debian/{file}"));
    if own.is_file() {
        Some(own)
    } else if main && shared.is_file() {
        Some(shared)
    } else {
        None
    }
}

/// The packages to act on, in `debian/control` order, from `dh_listpackages` given the same selection
/// options (it also reads `DH_INTERNAL_OPTIONS` and the build profiles from the environment).
///
/// # Errors
/// When `dh_listpackages` cannot be run (debhelper not installed) or fails (no `debian/control`, a
/// package named with -p that does not exist).
pub fn selected_packages(
    selection_args: &[String],
    selection_dh_options: &str,
    tmpdir: Option<&Path>,
) -> Result<Vec<Package>> {
    let list = |args: &[String], dh_options: Option<&str>| -> Result<Vec<String>> {
        let mut command = Command::new("dh_listpackages").args(args);
        command = match dh_options {
            Some(value) => command.env("DH_OPTIONS", value),
            // The whole source package, whatever dh selected for this run.
            None => command
                .env_remove("DH_OPTIONS")
                .env_remove("DH_INTERNAL_OPTIONS"),
        };
        let listing = command.query().context("listing the packages to act on")?;
        Ok(listing
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    };
    let selected = list(selection_args, Some(selection_dh_options))?;
    if selected.is_empty() {
        return Ok(Vec::new());
    }
    let all = list(&[], None)?;
    let indep = list(&["-i".to_owned()], None)?;
    let mut relations = control_relations(Path::new("debian/control"))?;
    Ok(selected
        .into_iter()
        .map(|name| Package {
            relations: relations.remove(&name).unwrap_or_default(),
            main: all.first() == Some(&name),
            config_file: pkgfile(&name, all.first() == Some(&name), "rustvenv"),
            tmpdir: tmpdir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| Path::new("debian").join(&name)),
            automatic_dbgsym: !indep.contains(&name)
                && !all.contains(&format!("{name}-dbgsym"))
                && !name.ends_with("-dbg")
                && !name.ends_with("-dbgsym"),
            name,
        })
        .collect())
}

/// Reads a package's configuration file: dh_rustvenv options, as on the command line, any number on
/// a line, split as a POSIX shell splits words; empty lines and lines starting with `#` are skipped.
/// An executable file is run instead (debhelper(7), "Executable debhelper config files", which dh-exec
/// relies on), with `DH_CONFIG_ACT_ON_PACKAGES` set to the package, and its output is read.
///
/// # Errors
/// When the file cannot be read, the executable fails, or a line has an unterminated quote; the
/// message names the file and the line.
pub fn read_package_config(path: &Path, package: &str) -> Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let executable = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode()
        & 0o111
        != 0;
    let text = if executable {
        let program = if path.is_absolute() {
            path.to_path_buf()
        } else {
            Path::new(".").join(path)
        };
        Command::new(program)
            .env("DH_CONFIG_ACT_ON_PACKAGES", package)
            .query()
            .with_context(|| {
                format!(
                    "running the executable configuration file {}",
                    path.display()
                )
            })?
    } else {
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    let mut words = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let split = shell_words::split(line)
            .map_err(|e| anyhow!("{}, line {}: {e}", path.display(), number + 1))?;
        words.extend(split);
    }
    Ok(words)
}

/// Adds `item` to the comma-separated list of `substvar` in a substvars file's text, as `Dh_Lib.pm`'s
/// `addsubstvar` does: the existing `name=` or `name?=` line is split on ", ", the item is added, the
/// list is de-duplicated and sorted, and the operator is kept; without such a line one is appended.
/// Returns the new text, or None when the item was already there.
///
/// # Errors
/// When `item` holds a newline, which would break the file (deb-substvars(5)).
///
/// # References
/// deb-substvars(5); debhelper 13.11 `Dh_Lib.pm`, `addsubstvar` and `_update_substvar`.
pub fn merge_substvar(text: &str, substvar: &str, item: &str) -> Result<Option<String>> {
    if item.contains('\n') {
        bail!("the value of ${{{substvar}}} must not contain a newline: {item:?}");
    }
    let mut present = false;
    let mut changed = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let assignment = substvar_assignment(line, substvar);
        match assignment {
            Some((operator, value)) => {
                present = true;
                let mut items: BTreeSet<&str> =
                    value.split(", ").filter(|i| !i.is_empty()).collect();
                if items.insert(item) {
                    changed = true;
                    let joined = items.into_iter().collect::<Vec<_>>().join(", ");
                    lines.push(format!("{substvar}{operator}{joined}"));
                } else {
                    lines.push(line.to_owned());
                }
            }
            None => lines.push(line.to_owned()),
        }
    }
    if !present {
        lines.push(format!("{substvar}={item}"));
        changed = true;
    }
    Ok(changed.then(|| lines.into_iter().map(|l| l + "\n").collect()))
}

/// The operator (`=` or `?=`) and value of `line` when it assigns `substvar` (deb-substvars(5)).
fn substvar_assignment<'a>(line: &'a str, substvar: &str) -> Option<(&'static str, &'a str)> {
    let rest = line.strip_prefix(substvar)?;
    rest.strip_prefix("?=")
        .map(|v| ("?=", v))
        .or(rest.strip_prefix('=').map(|v| ("=", v)))
}

/// Removes `items` from the comma-separated list of `substvar` in a substvars file's text (the
/// undoing of [`merge_substvar`]); a line left with no item is dropped. Returns the new text, or None
/// when nothing changed.
pub fn unmerge_substvar(text: &str, substvar: &str, items: &[String]) -> Option<String> {
    let mut changed = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let assignment = substvar_assignment(line, substvar);
        let Some((operator, value)) = assignment else {
            lines.push(line.to_owned());
            continue;
        };
        let kept: Vec<&str> = value
            .split(", ")
            .filter(|i| !i.is_empty() && !items.iter().any(|r| r == i))
            .collect();
        if kept.len() == value.split(", ").filter(|i| !i.is_empty()).count() {
            lines.push(line.to_owned());
            continue;
        }
        changed = true;
        if !kept.is_empty() {
            lines.push(format!("{substvar}{operator}{}", kept.join(", ")));
        }
    }
    changed.then(|| lines.into_iter().map(|l| l + "\n").collect())
}

/// Removes `items` from `substvar` in `debian/<package>.substvars`, atomically.
///
/// # Errors
/// When the file cannot be read or written; the message names the file.
pub fn remove_substvar_items(package: &str, substvar: &str, items: &[String]) -> Result<()> {
    let path = PathBuf::from(format!("debian/{package}.substvars"));
    let text = read_or_empty(&path)?;
    if let Some(new_text) = unmerge_substvar(&text, substvar, items) {
        write_atomically(&path, new_text.as_bytes())?;
    }
    Ok(())
}

/// The explicit targets of `debian/rules` and whether each does something: true when it has a recipe
/// or prerequisites, false when it is empty (as `override_dh_strip:` with nothing under it).
///
/// # Errors
/// When make cannot be run.
///
/// # References
/// debhelper 13.11 `SequencerUtil.pm`, `rules_explicit_target`, which dh uses to skip empty override
/// targets; this reads make's database the same way.
pub fn rules_targets() -> Result<std::collections::BTreeMap<String, bool>> {
    let output = Command::new("make")
        .args(["-Rrnpsf", "debian/rules", "debhelper-fail-me"])
        .env("LC_ALL", "C")
        .capture()
        .context("reading the targets of debian/rules")?
        .1;
    Ok(parse_make_database(&output))
}

/// [`rules_targets`] over the text of `make -p`.
fn parse_make_database(text: &str) -> std::collections::BTreeMap<String, bool> {
    let mut targets = std::collections::BTreeMap::new();
    let mut in_files = false;
    let mut not_a_target = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !in_files {
            in_files = line == "# Files";
            continue;
        }
        if line.starts_with("# Not a target:") {
            not_a_target = true;
            continue;
        }
        let definition = (!not_a_target && !line.starts_with('#') && !line.starts_with('\t'))
            .then(|| line.split_once(':'))
            .flatten()
            .filter(|(name, _)| !name.is_empty() && !name.contains('='));
        if let Some((name, rest)) = definition {
            let prerequisites = rest.trim_start_matches(':').trim();
            targets.insert(name.to_owned(), !prerequisites.is_empty());
            current = Some(name.to_owned());
        } else if let Some(target) = &current {
            if line.starts_with('#') {
                let comment = line.trim_start_matches('#').trim_start();
                if comment.starts_with("recipe to execute")
                    || comment.starts_with("commands to execute")
                {
                    targets.insert(target.clone(), true);
                }
            } else {
                current = None;
            }
        }
        not_a_target = false;
    }
    targets
}

/// A file's text, or "" when it does not exist yet.
fn read_or_empty(path: &Path) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Adds `item` to `substvar` in `debian/<package>.substvars`, atomically (written to a `.new` file, then
/// renamed), with [`merge_substvar`]'s semantics.
///
/// # Errors
/// When the file cannot be read or written; the message names the file.
pub fn add_substvar(package: &str, substvar: &str, item: &str) -> Result<()> {
    let path = PathBuf::from(format!("debian/{package}.substvars"));
    let text = read_or_empty(&path)?;
    if let Some(new_text) = merge_substvar(&text, substvar, item)? {
        write_atomically(&path, new_text.as_bytes())?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a `.new` file and a rename, so a reader never sees half a file.
///
/// # Errors
/// When the file cannot be written or renamed; the message names the file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Wraps a maintainer-script snippet in debhelper's markers and adds it to
/// `debian/<package>.<script>.debhelper`: prepended for `prerm` and `postrm` (so removal undoes the
/// installation in reverse order), appended for the other scripts. A snippet already present is not
/// added twice, so running the tool again does not duplicate it.
///
/// # Errors
/// When the file cannot be read or written; the message names the file.
///
/// # References
/// debhelper 13.11 `Dh_Lib.pm`, `autoscript`; debhelper(7), "Automatic generation of Debian maintainer
/// scripts".
pub fn autoscript(package: &str, script: &str, snippet: &str) -> Result<()> {
    let path = PathBuf::from(format!("debian/{package}.{script}.debhelper"));
    let existing = read_or_empty(&path)?;
    let block = autoscript_block(snippet);
    if existing.contains(&block) {
        return Ok(());
    }
    let text = if script == "prerm" || script == "postrm" {
        block + &existing
    } else {
        existing + &block
    };
    write_atomically(&path, text.as_bytes())
}

/// A snippet between debhelper's "Automatically added by" and "End automatically added section" lines.
pub fn autoscript_block(snippet: &str) -> String {
    let mut block = format!(
        "# Automatically added by {TOOL}/{}\n",
        env!("CARGO_PKG_VERSION")
    );
    block.push_str(snippet.trim_end_matches('\n'));
    block.push_str("\n# End automatically added section\n");
    block
}

/// The source package's name: the `Source` field of the first paragraph of `control` (normally
/// `debian/control`), which dpkg-gencontrol writes into each binary package when it differs from
/// the package's name. None when the file cannot be read or has no such field.
pub fn source_name(control: &Path) -> Option<String> {
    let text = fs::read_to_string(control).ok()?;
    text.lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            (!line.starts_with([' ', '\t']) && field.trim().eq_ignore_ascii_case("source"))
                .then(|| value.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_fields_are_read_as_dpkg_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        fs::write(
            &control,
            "Source: relay\nMaintainer: Ops <ops@example.org>\n\nPackage: relay\nArchitecture: any\n\
             depends: ${misc:Depends},\n# a comment\n python3-systemd\nRecommends: ${shlibs:Recommends}\n\
             Description: relay\n relay.\n\nPackage: relay-doc\nArchitecture: all\nDescription: d\n d.\n",
        )
        .unwrap();
        let packages = control_relations(&control).unwrap();
        let relay = &packages["relay"];
        assert_eq!(relay.fields["Depends"], "${misc:Depends}, python3-systemd");
        assert_eq!(relay.fields_naming("misc:Depends"), ["Depends"]);
        assert!(relay.names("shlibs:Recommends"));
        assert!(!relay.names("shlibs:Depends"));
        assert!(relay.names_python3_package());
        assert!(!packages.contains_key("relay-doc"));

        fs::write(
            &control,
            "Source: x\n\nPackage: x\nDepends ${misc:Depends}\n",
        )
        .unwrap();
        let error = format!("{:#}", control_relations(&control).unwrap_err());
        assert!(error.contains(&control.display().to_string()), "{error}");
    }

    #[test]
    fn source_name_is_the_first_paragraphs_source_field() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        fs::write(
            &control,
            "source: demo-src\nMaintainer: x\n\nPackage: demo\nSource: other\n",
        )
        .unwrap();
        assert_eq!(source_name(&control).as_deref(), Some("demo-src"));
        fs::write(&control, "Maintainer: x\n Source: no\n\nSource: late\n").unwrap();
        assert_eq!(source_name(&control), None);
        assert_eq!(source_name(&dir.path().join("missing")), None);
    }

    #[test]
    fn removes_only_the_named_items_from_a_substvar() {
        let text = "misc:Depends=adduser, python3.11\nshlibs:Depends=libc6 (>= 2.34)\n";
        assert_eq!(
            unmerge_substvar(text, "misc:Depends", &["python3.11".to_owned()]).as_deref(),
            Some("misc:Depends=adduser\nshlibs:Depends=libc6 (>= 2.34)\n")
        );
        assert_eq!(
            unmerge_substvar(text, "shlibs:Depends", &["libc6 (>= 2.34)".to_owned()]).as_deref(),
            Some("misc:Depends=adduser, python3.11\n")
        );
        assert_eq!(
            unmerge_substvar(text, "misc:Depends", &["x".to_owned()]),
            None
        );
    }

    #[test]
    fn reads_empty_and_busy_targets_from_makes_database() {
        let database = "# GNU Make 4.3\n# Variables\nX = 1\n# Files\n\n# Not a target:\ndebian/rules:\n\n\
override_dh_strip:\n#  Phony target (prerequisite of .PHONY).\n\n\
override_dh_shlibdeps:\n#  recipe to execute (from 'debian/rules', line 9):\n\tdh_shlibdeps\n\n\
build: build-arch\n\n%:\n";
        let targets = parse_make_database(database);
        assert_eq!(targets.get("override_dh_strip"), Some(&false));
        assert_eq!(targets.get("override_dh_shlibdeps"), Some(&true));
        assert_eq!(targets.get("build"), Some(&true));
        assert_eq!(targets.get("debian/rules"), None);
    }

    #[test]
    fn substvar_merge_adds_sorts_and_deduplicates() {
        let text = "misc:Depends=\nrustvenv:Depends=zlib1g (>= 1:1.1.4), python3.11\n";
        let merged = merge_substvar(text, "rustvenv:Depends", "libc6 (>= 2.34)")
            .unwrap()
            .unwrap();
        assert_eq!(
            merged,
            "misc:Depends=\nrustvenv:Depends=libc6 (>= 2.34), python3.11, zlib1g (>= 1:1.1.4)\n"
        );
        assert_eq!(
            merge_substvar(&merged, "rustvenv:Depends", "python3.11").unwrap(),
            None
        );
    }

    #[test]
    fn substvar_merge_keeps_the_optional_operator_and_appends_new_lines() {
        let merged = merge_substvar("rustvenv:Depends?=a\n", "rustvenv:Depends", "b")
            .unwrap()
            .unwrap();
        assert_eq!(merged, "rustvenv:Depends?=a, b\n");
        let appended = merge_substvar("misc:Depends=x\n", "rustvenv:Depends", "python3.11")
            .unwrap()
            .unwrap();
        assert_eq!(appended, "misc:Depends=x\nrustvenv:Depends=python3.11\n");
        // A variable whose name only starts with ours is another variable.
        let other = merge_substvar("rustvenv:DependsX=a\n", "rustvenv:Depends", "b")
            .unwrap()
            .unwrap();
        assert_eq!(other, "rustvenv:DependsX=a\nrustvenv:Depends=b\n");
    }

    #[test]
    fn substvar_merge_refuses_newlines() {
        assert!(merge_substvar("", "rustvenv:Depends", "a\nb").is_err());
    }

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
    fn build_options_match_whole_words() {
        let env = Environment {
            build_options: vec!["nostrip".into(), "parallel=2".into()],
            ..Environment::default()
        };
        assert!(env.build_option("nostrip"));
        assert!(env.build_option("parallel"));
        assert!(!env.build_option("nocheck"));
        assert!(!env.build_option("nostr"));
    }

    #[test]
    fn package_config_is_read_as_shell_words_or_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("demo.rustvenv");
        fs::write(
            &plain,
            "# options for demo\n--requirements 'reqs/base file.txt'\n\n--extras=web --test\n",
        )
        .unwrap();
        assert_eq!(
            read_package_config(&plain, "demo").unwrap(),
            [
                "--requirements",
                "reqs/base file.txt",
                "--extras=web",
                "--test"
            ]
        );
        let script = dir.path().join("other.rustvenv");
        fs::write(
            &script,
            "#!/bin/sh\necho \"--install-suffix=$DH_CONFIG_ACT_ON_PACKAGES-venv\"\n",
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            read_package_config(&script, "other").unwrap(),
            ["--install-suffix=other-venv"]
        );
        fs::write(&plain, "--requirements 'unterminated\n").unwrap();
        let err = read_package_config(&plain, "demo").unwrap_err().to_string();
        assert!(err.contains("demo.rustvenv, line 1"), "{err}");
    }

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("/usr/bin/python3.11"), "/usr/bin/python3.11");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
