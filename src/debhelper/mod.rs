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
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::command::{Command, Shown};

/// The program's name, as it appears at the start of every message.
pub const TOOL: &str = "dh_rustvenv";

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
    let executable = crate::tree::is_executable(
        fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode(),
    );
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
        crate::tree::replace(&path, new_text.as_bytes())?;
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
        crate::tree::replace(&path, new_text.as_bytes())?;
    }
    Ok(())
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
    crate::tree::replace(&path, text.as_bytes())
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

/// The source package's name, from the `Source:` field of `debian/control` under `top` (what
/// debhelper's `sourcepackage()` reads): the build system's default venv name.
///
/// # Errors
/// When `debian/control` cannot be read or has no `Source:` field in its first paragraph.
pub fn source_package(top: &Path) -> Result<String> {
    let path = top.join("debian/control");
    source_name(&path).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no Source: field in its first paragraph; add the source package's name",
            path.display()
        )
    })
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
    fn the_source_package_name_comes_from_debian_control() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("debian")).unwrap();
        std::fs::write(
            dir.path().join("debian/control"),
            "# comment\nSource: legacy-web\nSection: web\n\nPackage: legacy-web-app\n",
        )
        .unwrap();
        assert_eq!(source_package(dir.path()).unwrap(), "legacy-web");
        std::fs::write(dir.path().join("debian/control"), "Package: x\n").unwrap();
        assert!(source_package(dir.path()).is_err());
    }
}
