//! The command line of `dh_rustvenv`: debhelper's common options, then the venv options.
//!
//! Takes the process arguments and the debhelper environment (`DH_INTERNAL_OPTIONS`, `DH_OPTIONS`) and
//! returns one [`Invocation`]: the parsed [`Options`], the package-selection words to hand to
//! `dh_listpackages`, and warnings about ignored words. The words are read in debhelper's order
//! (`Dh_Getopt.pm`, `parseopts`): `DH_INTERNAL_OPTIONS` (split on `\x1e`), then `DH_OPTIONS` (split on
//! white space), then the command line, so a later scalar option wins over an earlier one. Unknown words
//! in the two variables are ignored with a warning; on the command line they are an error. `-O<option>`
//! (what `dh` passes on for its own unknown options) is applied when `dh_rustvenv` knows the option and
//! dropped silently otherwise, as debhelper(7) documents. Nothing here reads the environment itself.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser};

/// Everything `dh_rustvenv` can be told on its command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "dh_rustvenv",
    version,
    about = "build a Python virtualenv into a Debian package",
    long_about = "dh_rustvenv is a debhelper program that builds a Python virtual environment (venv) inside \
the package build directory, at debian/PACKAGE/opt/venvs/NAME, installs the pinned requirements and the \
source package itself into it with pip, and rewrites every path that names the build directory so that the \
venv works at its final location /opt/venvs/NAME. It writes ${rustvenv:Depends} to debian/PACKAGE.substvars \
with the Python interpreter the venv is tied to, and maintainer-script snippets that byte-compile the venv \
on installation and remove the bytecode on removal.\n\nIt is normally run through the dh sequence add-on: \
`dh $@ --with rustvenv`, or Build-Depends: dh-sequence-rustvenv.",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Options {
    /// Debhelper's common options.
    #[command(flatten)]
    pub debhelper: DebhelperOptions,
    /// What goes into the venv and how it is built.
    #[command(flatten)]
    pub venv: VenvOptions,
    /// dh_virtualenv's options that have no other place.
    #[command(flatten)]
    pub compat: CompatOptions,
    /// Print the version and exit.
    #[arg(long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
}

/// The options every debhelper program takes (debhelper(7), "SHARED DEBHELPER OPTIONS").
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Debhelper options")]
pub struct DebhelperOptions {
    /// Act on the package PACKAGE; may be given more than once.
    #[arg(short = 'p', long = "package", value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// Do not act on the package PACKAGE, even if it is selected otherwise; may be given more than once.
    #[arg(short = 'N', long = "no-package", value_name = "PACKAGE")]
    pub no_packages: Vec<String>,
    /// Act on all architecture-dependent packages.
    #[arg(short = 'a', long = "arch", visible_alias = "same-arch")]
    pub arch: bool,
    /// Act on all architecture-independent packages.
    #[arg(short = 'i', long = "indep")]
    pub indep: bool,
    /// Use DIR as the package build directory instead of debian/PACKAGE (implies a single package).
    #[arg(short = 'P', long = "tmpdir", value_name = "DIR")]
    pub tmpdir: Option<PathBuf>,
    /// Print every command that changes the package build directory, indented by a tab
    /// (also DH_VERBOSE set to any non-empty value).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Do not change anything; with --verbose, print what would be run (also DH_NO_ACT).
    #[arg(long = "no-act")]
    pub no_act: bool,
    /// Do not add the maintainer-script snippets (byte-compilation on installation, clean-up on removal).
    #[arg(short = 'n', long = "no-scripts", visible_alias = "noscripts")]
    pub no_scripts: bool,
}

/// What goes into the venv, and from where.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Virtualenv options")]
pub struct VenvOptions {
    /// The Python interpreter the venv is built with, a path or a name looked up in PATH. It is pinned to
    /// the versioned interpreter it resolves to (/usr/bin/python3 becomes /usr/bin/python3.11), and the
    /// package depends on that interpreter's Debian package.
    #[arg(long, value_name = "PYTHON", default_value = "/usr/bin/python3")]
    pub python: String,
    /// The pip requirements file, relative to the source directory. When the option is not given,
    /// requirements.txt is used if it exists, else the first of pylock.toml, uv.lock and poetry.lock;
    /// a file named with this option must exist. A PEP 751 lock (pylock.toml, pylock.NAME.toml) named
    /// here is read as a lock.
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,
    /// A lock file to install the locked set of, relative to the source directory: pylock.toml (PEP
    /// 751), uv.lock or poetry.lock, told by its name. Read by dh_rustvenv itself, offline: the
    /// packages that apply to the interpreter, one locked file each, installed with --no-deps and
    /// their hashes; then the project with --no-deps. Wins over requirements.txt.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// The directory of the Python project (pyproject.toml or setup.py) and of the requirements file,
    /// relative to the top of the source package. Default: the top of the source package.
    #[arg(
        short = 'D',
        long = "sourcedirectory",
        alias = "sourcedir",
        value_name = "DIR"
    )]
    pub sourcedirectory: Option<PathBuf>,
    /// The venv's directory name under the install root (DH_RUSTVENV_INSTALL_ROOT, default /opt/venvs).
    /// Default: the binary package's name.
    #[arg(long = "install-suffix", value_name = "NAME")]
    pub install_suffix: Option<String>,
    /// The package index pip uses, passed to every pip call as --index-url.
    #[arg(long = "index-url", value_name = "URL")]
    pub index_url: Option<String>,
    /// A further package index, passed to every pip call as --extra-index-url; may be given more than once.
    #[arg(long = "extra-index-url", value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// An argument appended to every `pip install` call but the upgrade of pip (as dh_virtualenv
    /// does), such as --prefer-binary or --find-links=DIR; may be given more than once.
    #[arg(long = "extra-pip-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub extra_pip_arg: Vec<String>,
    /// A requirement installed before the requirements file, such as "pip==24.0"; may be given more than
    /// once.
    #[arg(long, value_name = "REQUIREMENT")]
    pub preinstall: Vec<String>,
    /// Do not install the source package itself; install only --preinstall and the requirements file.
    #[arg(long = "skip-install")]
    pub skip_install: bool,
    /// An extra of the source package to install with it (`pip install .[NAME]`); may be given more
    /// than once, or as a comma-separated list.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub extras: Vec<String>,
    /// A dependency group (PEP 735 name) to install from the lock file as well: a uv.lock's
    /// dev-dependencies, a poetry.lock's group besides main, a pylock.toml's dependency-groups (without
    /// the option, a pylock.toml's default-groups). May be given more than once, or as a
    /// comma-separated list; needs a lock file.
    #[arg(long = "group", value_name = "NAME", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// An argument appended to the venv creation (`python -m venv`); may be given more than once.
    #[arg(
        long = "extra-virtualenv-arg",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    pub extra_virtualenv_arg: Vec<String>,
    /// Give the venv access to the interpreter's system site-packages (`--system-site-packages`). The
    /// package must then depend on the Debian packages the venv uses from there.
    #[arg(short = 'S', long = "use-system-packages")]
    pub use_system_packages: bool,
    /// The program in the venv's bin/ that installs the requirements file and the source package
    /// instead of pip, such as a pip-compatible tool installed with --preinstall. pip's own names
    /// (pip, pip3, pip3.X) mean the installer (--installer), whether or not the venv has a pip.
    /// Default: pip.
    #[arg(long = "pip-tool", value_name = "PROGRAM")]
    pub pip_tool: Option<String>,
    /// What installs the requirements and the source package into the venv: pip, the interpreter's
    /// own (python3-pip, run by the venv's interpreter through pip's runner, or else its pip wheel from
    /// python3-pip-whl), or uv, taken from a uv wheel in the wheelhouse or else from PATH. Either way
    /// the venv is created by `python -m venv`.
    #[arg(long, value_enum, value_name = "INSTALLER", default_value_t = Installer::Pip)]
    pub installer: Installer,
    /// Ship pip in the venv (and setuptools, with Python 3.11), as `python -m venv` installs them with
    /// ensurepip, for programs that call the venv's pip at run time. Without it the venv holds pip,
    /// setuptools or wheel only when the requirements, --preinstall or --upgrade-pip name them. The
    /// dh_virtualenv drop-in always ships pip, as dh_virtualenv did.
    #[arg(long = "with-pip")]
    pub with_pip: bool,
    /// Upgrade pip in the venv to the newest version before anything else is installed. Builds then
    /// depend on the index's state: prefer --upgrade-pip-to.
    #[arg(long = "upgrade-pip")]
    pub upgrade_pip: bool,
    /// Upgrade pip in the venv to VERSION (`latest` is --upgrade-pip) before anything else is installed.
    #[arg(long = "upgrade-pip-to", value_name = "VERSION")]
    pub upgrade_pip_to: Option<String>,
    /// Refuse requirements without a hash: pip's hash-checking mode (--require-hashes) for the
    /// requirements file. A requirements file with hashes is checked without it.
    #[arg(long = "require-hashes")]
    pub require_hashes: bool,
    /// Install from the wheels and sdists in DIR only (relative to the top of the source package), with
    /// no package index: what builds without network (sbuild, pbuilder) need. Default: debian/wheelhouse
    /// when that directory exists. Fill it with --download.
    #[arg(long, value_name = "DIR")]
    pub wheelhouse: Option<PathBuf>,
    /// Do not build anything: download into the wheelhouse every distribution the build needs (the
    /// upgrades, --preinstall, the requirements file, and the build backends of the source package and
    /// of every sdist), from the package index, until an offline install succeeds.
    #[arg(long)]
    pub download: bool,
    /// As --download, for the interpreters of the Debian releases the package is built for, whatever
    /// the interpreter dh_rustvenv runs with: a comma-separated list of Python versions (3.11,3.13) or
    /// release names (bookworm, trixie), or VERSION@GLIBC (3.12@2.39) for an interpreter of no release
    /// dh_rustvenv knows; each may name a Debian architecture, for cross builds (3.11@arm64,
    /// bookworm:arm64, 3.12@2.39:arm64; by default the host architecture). For each, the wheels for that CPython ABI (cp3XY, abi3, none) and for
    /// manylinux platforms that run on the release's glibc are downloaded; a distribution with no such
    /// wheel gets its sdist, which the build compiles, and it is said so.
    #[arg(
        long = "download-for",
        value_name = "TARGETS",
        value_delimiter = ',',
        value_parser = crate::wheelhouse::DownloadTarget::parse
    )]
    pub download_for: Vec<crate::wheelhouse::DownloadTarget>,
    /// Run the source package's tests in the staged venv after installing it, unless
    /// DEB_BUILD_OPTIONS has nocheck. Default command: python -m pytest, in the source directory.
    #[arg(long)]
    pub test: bool,
    /// The command --test runs, with the venv's bin/ first in PATH (run by /bin/sh in the source
    /// directory).
    #[arg(long = "test-command", value_name = "COMMAND")]
    pub test_command: Option<String>,
    /// Ship bytecode: compile the venv at build time into hash-based .pyc files (PEP 552, checked-hash)
    /// that name the final path, instead of compiling it in postinst. Costs package size and a
    /// lintian tag per __pycache__ directory; saves the compilation at installation.
    #[arg(long = "ship-bytecode")]
    pub ship_bytecode: bool,
    /// A shared library (SONAME, such as libcuda.so.1) that an extension module may need although it is
    /// neither in the venv nor on the build system, because the target systems provide it another way;
    /// the modules that need it are left out of the shared-library dependencies. May be given more than
    /// once.
    #[arg(long = "ignore-library", value_name = "SONAME")]
    pub ignore_library: Vec<String>,
    /// Build the package even when files of the venv still name the build directory after relocation;
    /// they are listed as a warning instead of an error.
    #[arg(long = "allow-leaks")]
    pub allow_leaks: bool,
    /// Leave the venv's ELF files as pip installed them, unstripped (as DEB_BUILD_OPTIONS=nostrip does
    /// for this package alone). An empty override_dh_strip target in debian/rules has the same effect.
    #[arg(long = "no-strip")]
    pub no_strip: bool,
    /// Write no SBOM into the venv and no license summary: by default dh_rustvenv writes a CycloneDX
    /// 1.6 SBOM of the venv to /opt/venvs/NAME/NAME.cdx.json and DEP-5 stanzas for debian/copyright
    /// to debian/.debhelper/rustvenv/PACKAGE/copyright-fragment. The dh_virtualenv drop-in writes
    /// neither, as dh-virtualenv does not.
    #[arg(long = "no-sbom")]
    pub no_sbom: bool,
    /// Move the dependency on the Debian package PACKAGE (such as libpq5, needed by an optional
    /// extension module) from ${rustvenv:Depends} to ${rustvenv:Recommends}; may be given more than once.
    #[arg(long = "recommends", value_name = "PACKAGE")]
    pub recommends: Vec<String>,
    /// Move the dependency on the Debian package PACKAGE from ${rustvenv:Depends} to
    /// ${rustvenv:Suggests}; may be given more than once.
    #[arg(long = "suggests", value_name = "PACKAGE")]
    pub suggests: Vec<String>,
    /// Report on stderr how long each stage took, one line per stage: `dh_rustvenv: timing: PACKAGE:
    /// STAGE SECONDS` (also DH_RUSTVENV_TIMINGS set to a non-empty value).
    #[arg(long)]
    pub timings: bool,
    /// dh-virtualenv's build system (`dh $@ --buildsystem=dh_virtualenv`), run by the drop-in's
    /// `Buildsystem/dh_virtualenv.pm` from dh_auto_install, which names its destination directory DIR:
    /// the venv is built under DIR with the build system's variables and defaults
    /// ([`crate::buildsystem`]). Hidden: rules do not give it (the man page says so in NOTES).
    #[arg(long = "buildsystem-destdir", value_name = "DIR", hide = true)]
    pub buildsystem_destdir: Option<PathBuf>,
}

/// The program that installs distributions into the venv (`--installer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Installer {
    /// pip: the interpreter's own, or the venv's once the venv has one.
    Pip,
    /// uv's pip interface (`uv pip install`), with copies instead of links into its cache, which lives
    /// in the build tree.
    Uv,
}

impl VenvOptions {
    /// Whether this run fills the wheelhouse instead of building: `--download` or `--download-for`.
    pub fn downloads(&self) -> bool {
        self.download || !self.download_for.is_empty()
    }
}

/// dh_virtualenv's options that dh_rustvenv accepts only so that a debian/rules written for
/// dh_virtualenv keeps working, or refuses with what to use instead.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "dh_virtualenv compatibility")]
pub struct CompatOptions {
    /// Accepted and without effect: venvs are always created with `python -m venv`.
    #[arg(long = "builtin-venv")]
    pub builtin_venv: bool,
    /// The deprecated spelling of --index-url.
    #[arg(long = "pypi-url", value_name = "URL")]
    pub pypi_url: Option<String>,
    /// Refused: virtualenv's switch between setuptools and distribute has no meaning for `python -m
    /// venv`; install a setuptools version with --preinstall instead.
    #[arg(short = 's', long = "setuptools")]
    pub setuptools: bool,
    /// Refused: `setup.py test` was removed from setuptools; run the tests with --test instead.
    #[arg(long = "setuptools-test")]
    pub setuptools_test: bool,
    /// Accepted and without effect, as in dh_virtualenv, where it is deprecated.
    #[arg(long = "no-test")]
    pub no_test: bool,
}

/// Applies the dh_virtualenv compatibility options to `options`: `--pypi-url` becomes `--index-url`.
/// Returns the warnings to print.
///
/// # Errors
/// For the options dh_rustvenv refuses (`--setuptools`, `--setuptools-test`) and for `--pypi-url`
/// together with `--index-url`, as dh_virtualenv does; each message says what to use instead.
///
/// # References
/// dh_virtualenv 1.2.2, `dh_virtualenv/cmdline.py`.
pub fn apply_compat(options: &mut Options) -> Result<Vec<String>, String> {
    let compat = options.compat.clone();
    let mut warnings = Vec::new();
    if compat.setuptools {
        return Err("--setuptools (-s) is virtualenv's option and means nothing to `python -m venv`; remove it, \
                    or pin a setuptools version with --preinstall 'setuptools==VERSION'"
            .to_owned());
    }
    if compat.setuptools_test {
        return Err("--setuptools-test ran `setup.py test`, which setuptools no longer has; use --test (pytest) \
                    or --test --test-command 'COMMAND'"
            .to_owned());
    }
    if let Some(url) = compat.pypi_url {
        if options.venv.index_url.is_some() {
            return Err(
                "--pypi-url and --index-url both given; --pypi-url is the deprecated spelling of \
                        --index-url: keep only --index-url"
                    .to_owned(),
            );
        }
        warnings.push("--pypi-url is deprecated; use --index-url".to_owned());
        options.venv.index_url = Some(url);
    }
    if compat.no_test {
        warnings.push(
            "--no-test has no effect (it had none in dh_virtualenv either); remove it".to_owned(),
        );
    }
    Ok(warnings)
}

/// Refuses a value with a control character (a newline, a tab, an escape, DEL), naming `what` it is:
/// an option or an environment variable. Such a value has no place in a path that ends up in
/// maintainer scripts, substvars, lintian overrides and the `-X` options of the dh sequence, whose
/// lines it would break.
///
/// # Errors
/// "`<what>` holds a control character (U+000A): `<value, escaped>`".
pub fn refuse_control_characters(what: &str, value: &str) -> Result<(), String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "{what} holds a control character (U+{:04X}): `{}`",
            u32::from(c),
            value.escape_default()
        )),
        None => Ok(()),
    }
}

/// Checks the values of `options` that no parser checks: `--install-suffix` holds no control
/// character ([`refuse_control_characters`]).
///
/// # Errors
/// The message names the option and the character.
pub fn check_values(options: &Options) -> Result<(), String> {
    if let Some(suffix) = &options.venv.install_suffix {
        refuse_control_characters("--install-suffix", suffix)?;
    }
    Ok(())
}

/// The options of `options` that are given and have no effect, one warning each: `--test-command`
/// without `--test`, `--extras` with `--skip-install` (the source package, whose extras they are, is
/// not installed), and `--index-url` or `--extra-index-url` when the install is offline from the
/// wheelhouse `offline_wheelhouse` (every pip call then gets `--no-index`; `--download`, which fills
/// the wheelhouse from the index, is not such an install and the caller passes None for it).
pub fn ineffective(options: &Options, offline_wheelhouse: Option<&std::path::Path>) -> Vec<String> {
    let venv = &options.venv;
    let mut warnings = Vec::new();
    if venv.test_command.is_some() && !venv.test {
        warnings.push(
            "--test-command has no effect without --test, which runs it; add --test or remove \
             --test-command"
                .to_owned(),
        );
    }
    // With --lock the extras select the lock's packages, whether or not the project is installed.
    if !venv.extras.is_empty() && venv.skip_install && venv.lock.is_none() {
        warnings.push(format!(
            "--extras {} has no effect with --skip-install, which does not install the source \
             package they are extras of",
            venv.extras.join(",")
        ));
    }
    if let Some(wheelhouse) = offline_wheelhouse {
        let given: Vec<&str> = [
            venv.index_url.is_some().then_some("--index-url"),
            (!venv.extra_index_url.is_empty()).then_some("--extra-index-url"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !given.is_empty() {
            warnings.push(format!(
                "{} {} no effect: the install is offline, from the wheelhouse {} only (--download \
                 fills it from the index)",
                given.join(" and "),
                if given.len() == 1 { "has" } else { "have" },
                wheelhouse.display()
            ));
        }
    }
    warnings
}

/// One run's parsed options, plus what debhelper needs to select the same packages.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The merged options, in debhelper's order of precedence.
    pub options: Options,
    /// The package-selection words of the command line (-p, -N, -a, -i and their long forms), for
    /// `dh_listpackages`.
    pub selection_args: Vec<String>,
    /// The package-selection words of `DH_OPTIONS`, which `dh_listpackages` is given as its own
    /// `DH_OPTIONS` (the venv options there would only make it warn).
    pub selection_dh_options: String,
    /// One line for every word of `DH_OPTIONS` or `DH_INTERNAL_OPTIONS` that was ignored.
    pub warnings: Vec<String>,
    /// The kept words of `DH_INTERNAL_OPTIONS` and `DH_OPTIONS`, in that order.
    environment_words: Vec<String>,
    /// The command line's words, with `-O` options expanded.
    command_line_words: Vec<String>,
    /// Words of the command line that are no option and no option's value. dh_virtualenv 1.2.2's
    /// optparse collected them and went on (`-i URL`, written for `--index-url`, is `--indep` and a
    /// stray URL): the drop-in ignores them with a warning, dh_rustvenv refuses them.
    pub stray: Vec<String>,
}

impl Invocation {
    /// The options for a package that has a configuration file (`debian/<package>.rustvenv`): its
    /// words come after `DH_INTERNAL_OPTIONS` and `DH_OPTIONS` and before the command line, so that an
    /// option given on the command line still wins.
    ///
    /// # Errors
    /// clap's error for an unknown option or a bad value in `config_words`, and for the options that
    /// choose what the whole run does (package selection, `-P`, `-v`, `--no-act`), which a package's
    /// file cannot change.
    pub fn for_package(&self, config_words: &[String]) -> Result<Options, clap::Error> {
        let alone = Options::try_parse_from(
            std::iter::once("dh_rustvenv").chain(config_words.iter().map(String::as_str)),
        )?;
        let dh = &alone.debhelper;
        if !dh.packages.is_empty()
            || !dh.no_packages.is_empty()
            || dh.arch
            || dh.indep
            || dh.tmpdir.is_some()
            || dh.verbose
            || dh.no_act
        {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                "-p, -N, -a, -i, -P, -v and --no-act choose what a whole run does; give them on the \
                 command line, not in a package's configuration file\n",
            ));
        }
        let words = self
            .environment_words
            .iter()
            .chain(config_words)
            .chain(&self.command_line_words)
            .map(String::as_str);
        Options::try_parse_from(std::iter::once("dh_rustvenv").chain(words))
    }
}

/// The clap command behind [`Options`], for `--help` and the man page.
pub fn command() -> clap::Command {
    Options::command()
}

/// Parses `args` (without the program name) together with the contents of `DH_INTERNAL_OPTIONS` and
/// `DH_OPTIONS`.
///
/// # Errors
/// Returns clap's error for an unknown option or a bad value on the command line, and for `--help` and
/// `--version` (whose kind tells the caller to print it and exit 0).
pub fn parse(
    args: &[String],
    dh_internal_options: Option<&str>,
    dh_options: Option<&str>,
) -> Result<Invocation, clap::Error> {
    let known = KnownOptions::new(&command());
    let mut warnings = Vec::new();
    let mut words: Vec<String> = Vec::new();
    if let Some(internal) = dh_internal_options {
        let split: Vec<String> = internal
            .split('\x1e')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        words.extend(known.keep_known(&split, "DH_INTERNAL_OPTIONS", &mut warnings));
    }
    let mut selection_dh_options = Vec::new();
    if let Some(dh_options) = dh_options {
        let split: Vec<String> = dh_options.split_whitespace().map(str::to_owned).collect();
        let kept = known.keep_known(&split, "DH_OPTIONS", &mut warnings);
        selection_dh_options = known.selection_words(&kept);
        words.extend(kept);
    }
    let environment_words = words.clone();
    let (command_line, stray) = known.split_stray(&known.expand_passthrough(args));
    let selection_args = known.selection_words(&command_line);
    words.extend(command_line.iter().cloned());

    let argv =
        std::iter::once(OsString::from("dh_rustvenv")).chain(words.into_iter().map(OsString::from));
    let options = Options::try_parse_from(argv)?;
    Ok(Invocation {
        options,
        selection_args,
        selection_dh_options: selection_dh_options.join(" "),
        warnings,
        environment_words,
        command_line_words: command_line,
        stray,
    })
}

/// The options clap knows, by spelling, and whether each takes a value.
struct KnownOptions {
    /// (spelling with dashes, takes a value, is a package-selection option)
    spellings: Vec<(String, bool, bool)>,
}

impl KnownOptions {
    fn new(command: &clap::Command) -> KnownOptions {
        let mut spellings = Vec::new();
        for arg in command.get_arguments() {
            let takes_value = arg.get_action().takes_values();
            let selection = matches!(
                arg.get_id().as_str(),
                "packages" | "no_packages" | "arch" | "indep"
            );
            for long in arg.get_long_and_visible_aliases().into_iter().flatten() {
                spellings.push((format!("--{long}"), takes_value, selection));
            }
            for alias in arg.get_all_aliases().into_iter().flatten() {
                spellings.push((format!("--{alias}"), takes_value, selection));
            }
            if let Some(short) = arg.get_short() {
                spellings.push((format!("-{short}"), takes_value, selection));
            }
        }
        KnownOptions { spellings }
    }

    /// Finds the option a word spells: `--name`, `--name=value`, `-x` or `-xVALUE`.
    /// Returns (takes a value, the value is inside the word, is a selection option).
    fn lookup(&self, word: &str) -> Option<(bool, bool, bool)> {
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let spelled = format!("--{name}");
            return self
                .spellings
                .iter()
                .find(|(s, _, _)| *s == spelled)
                .map(|&(_, takes, sel)| (takes, inline, sel));
        }
        let short = word.strip_prefix('-')?.chars().next()?;
        let spelled = format!("-{short}");
        let attached = word.len() > 2;
        self.spellings
            .iter()
            .find(|(s, _, _)| *s == spelled)
            .filter(|(_, takes, _)| *takes || !attached)
            .map(|&(_, takes, sel)| (takes, attached, sel))
    }

    /// Rewrites `-O<option>` into `<option>` when it is known and drops it otherwise
    /// (`Dh_Getopt.pm` parses `-O` values and ignores the ones it does not know).
    fn expand_passthrough(&self, args: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut iter = args.iter();
        while let Some(word) = iter.next() {
            let passed = match word.as_str() {
                "-O" => iter.next().cloned(),
                w if w.starts_with("-O") => Some(w[2..].to_owned()),
                w if w.starts_with("--O=") => Some(w[4..].to_owned()),
                _ => {
                    out.push(word.clone());
                    continue;
                }
            };
            if let Some(passed) = passed.filter(|p| self.lookup(p).is_some()) {
                out.push(passed);
            }
        }
        out
    }

    /// Keeps the known options of an environment variable's words, with their values; the rest is
    /// reported in `warnings` (once for the variable) and dropped, as `Dh_Getopt.pm` does.
    fn keep_known(
        &self,
        words: &[String],
        variable: &str,
        warnings: &mut Vec<String>,
    ) -> Vec<String> {
        let (kept, ignored) = self.partition(&self.expand_passthrough(words), &|_| false);
        if !ignored.is_empty() {
            warnings.push(format!(
                "ignored unknown options in {variable}: {}",
                ignored.join(" ")
            ));
        }
        kept
    }

    /// The package-selection words (with their values) among `words`.
    /// Splits `words` into the options with their values, and the words that are neither (the
    /// positional arguments no dh_ program takes), in order. A word that starts with `-` but is no
    /// known option stays with the options, for clap to reject.
    fn split_stray(&self, words: &[String]) -> (Vec<String>, Vec<String>) {
        self.partition(words, &|word| word.starts_with('-') && word != "-")
    }

    /// Splits `words` into the known options with their values, and the other words, in order; an
    /// unknown word for which `keep_unknown` is true goes with the options.
    fn partition(
        &self,
        words: &[String],
        keep_unknown: &dyn Fn(&str) -> bool,
    ) -> (Vec<String>, Vec<String>) {
        let (mut kept, mut other) = (Vec::new(), Vec::new());
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            match self.lookup(word) {
                Some((takes_value, inline, _)) => {
                    kept.push(word.clone());
                    if takes_value && !inline {
                        kept.extend(iter.next().cloned());
                    }
                }
                None if keep_unknown(word) => kept.push(word.clone()),
                None => other.push(word.clone()),
            }
        }
        (kept, other)
    }

    fn selection_words(&self, words: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            let Some((takes_value, inline, selection)) = self.lookup(word) else {
                continue;
            };
            let value = if takes_value && !inline {
                iter.next()
            } else {
                None
            };
            if selection {
                out.push(word.clone());
                out.extend(value.cloned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn arch_and_indep_take_no_value() {
        let inv = parse(&words(&["-a", "-O--buildsystem=pybuild", "-i"]), None, None).unwrap();
        assert!(inv.options.debhelper.arch);
        assert!(inv.options.debhelper.indep);
        assert_eq!(inv.selection_args, words(&["-a", "-i"]));
    }

    #[test]
    fn passthrough_applies_known_options_and_drops_unknown() {
        let inv = parse(
            &words(&[
                "-O--python=/usr/bin/python3.11",
                "-O--buildsystem=pybuild",
                "-O-v",
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(inv.options.venv.python, "/usr/bin/python3.11");
        assert!(inv.options.debhelper.verbose);
        assert!(inv.warnings.is_empty());
    }

    #[test]
    fn command_line_wins_over_dh_options_which_win_over_internal() {
        let inv = parse(
            &words(&["--install-suffix=cli"]),
            Some("-O--install-suffix=internal\x1e-a"),
            Some("--install-suffix=env --requirements reqs.txt"),
        )
        .unwrap();
        assert_eq!(inv.options.venv.install_suffix.as_deref(), Some("cli"));
        assert_eq!(
            inv.options.venv.requirements,
            Some(PathBuf::from("reqs.txt"))
        );
        assert!(inv.options.debhelper.arch);
        // Selection from DH_INTERNAL_OPTIONS stays with dh_listpackages, which reads it itself.
        assert!(inv.selection_args.is_empty());
    }

    #[test]
    fn unknown_words_in_dh_options_are_ignored_with_a_warning() {
        let inv = parse(
            &[],
            None,
            Some("--frobnicate -pdemo --extra-pip-arg --no-index"),
        )
        .unwrap();
        assert_eq!(inv.options.debhelper.packages, words(&["demo"]));
        assert_eq!(inv.options.venv.extra_pip_arg, words(&["--no-index"]));
        assert_eq!(inv.selection_dh_options, "-pdemo");
        assert_eq!(
            inv.warnings,
            words(&["ignored unknown options in DH_OPTIONS: --frobnicate"])
        );
    }

    #[test]
    fn package_configuration_comes_between_the_environment_and_the_command_line() {
        let inv = parse(
            &words(&["--install-suffix=cli"]),
            None,
            Some("--python=/usr/bin/python3.11"),
        )
        .unwrap();
        let options = inv
            .for_package(&words(&[
                "--install-suffix=file",
                "--requirements=file.txt",
                "--python=/usr/bin/python3.12",
            ]))
            .unwrap();
        assert_eq!(options.venv.install_suffix.as_deref(), Some("cli"));
        assert_eq!(options.venv.requirements, Some(PathBuf::from("file.txt")));
        assert_eq!(options.venv.python, "/usr/bin/python3.12");
        assert!(inv.for_package(&words(&["--frobnicate"])).is_err());
        let err = inv
            .for_package(&words(&["--no-act"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not in a package's configuration file"),
            "{err}"
        );
    }

    #[test]
    fn dh_virtualenv_options_are_applied_or_refused() {
        let mut options = parse(
            &words(&[
                "--pypi-url=https://mirror/simple",
                "--no-test",
                "--builtin-venv",
            ]),
            None,
            None,
        )
        .unwrap()
        .options;
        let warnings = apply_compat(&mut options).unwrap();
        assert_eq!(
            options.venv.index_url.as_deref(),
            Some("https://mirror/simple")
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for refused in [
            &["-s"][..],
            &["--setuptools-test"],
            &["--pypi-url=a", "--index-url=b"],
        ] {
            let mut options = parse(&words(refused), None, None).unwrap().options;
            assert!(apply_compat(&mut options).is_err(), "{refused:?}");
        }
        let options = parse(&words(&["--extras=web,db", "--extras", "cli"]), None, None)
            .unwrap()
            .options;
        assert_eq!(options.venv.extras, words(&["web", "db", "cli"]));
    }

    #[test]
    fn words_that_are_no_option_are_set_apart() {
        let inv = parse(
            &words(&[
                "-i",
                "https://pypi.example/simple",
                "--python",
                "python3",
                "stray",
            ]),
            None,
            None,
        )
        .unwrap();
        assert!(inv.options.debhelper.indep);
        assert_eq!(inv.options.venv.python, "python3");
        assert_eq!(inv.stray, words(&["https://pypi.example/simple", "stray"]));
    }

    #[test]
    fn unknown_option_on_the_command_line_is_an_error() {
        let err = parse(&words(&["--frobnicate"]), None, None).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn attached_short_values_and_repeats() {
        let inv = parse(
            &words(&[
                "-pone",
                "-p",
                "two",
                "-Nthree",
                "--extra-pip-arg=--no-index",
                "--extra-pip-arg",
                "-q",
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(inv.options.debhelper.packages, words(&["one", "two"]));
        assert_eq!(inv.options.debhelper.no_packages, words(&["three"]));
        assert_eq!(inv.options.venv.extra_pip_arg, words(&["--no-index", "-q"]));
        assert_eq!(
            inv.selection_args,
            words(&["-pone", "-p", "two", "-Nthree"])
        );
    }

    #[test]
    fn control_characters_are_refused_naming_the_option() {
        let options = parse(&words(&["--install-suffix=demo\nx"]), None, None)
            .unwrap()
            .options;
        assert_eq!(
            check_values(&options).unwrap_err(),
            "--install-suffix holds a control character (U+000A): `demo\\nx`"
        );
        let options = parse(&words(&["--install-suffix=demo"]), None, None)
            .unwrap()
            .options;
        assert!(check_values(&options).is_ok());
        assert!(refuse_control_characters("DH_RUSTVENV_INSTALL_ROOT", "/opt/\tvenvs").is_err());
        assert!(refuse_control_characters("DH_RUSTVENV_INSTALL_ROOT", "/opt/\u{7f}").is_err());
        assert!(refuse_control_characters("DH_RUSTVENV_INSTALL_ROOT", "/opt/vénvs").is_ok());
    }

    #[test]
    fn options_without_effect_are_warned_about() {
        let options = |args: &[&str]| parse(&words(args), None, None).unwrap().options;
        let wheelhouse = Some(std::path::Path::new("debian/wheelhouse"));
        assert_eq!(
            ineffective(&options(&["--test-command=make check"]), None),
            [
                "--test-command has no effect without --test, which runs it; add --test or remove \
              --test-command"
            ]
        );
        assert!(ineffective(&options(&["--test", "--test-command=make check"]), None).is_empty());
        assert_eq!(
            ineffective(&options(&["--extras=web,db", "--skip-install"]), None),
            [
                "--extras web,db has no effect with --skip-install, which does not install the source \
              package they are extras of"
            ]
        );
        assert!(ineffective(&options(&["--extras=web"]), None).is_empty());
        let index = options(&["--index-url=https://mirror/simple"]);
        assert_eq!(
            ineffective(&index, wheelhouse),
            [
                "--index-url has no effect: the install is offline, from the wheelhouse \
              debian/wheelhouse only (--download fills it from the index)"
            ]
        );
        assert!(ineffective(&index, None).is_empty());
        let both = options(&[
            "--index-url=https://a/simple",
            "--extra-index-url=https://b/simple",
        ]);
        assert!(
            ineffective(&both, wheelhouse)[0]
                .starts_with("--index-url and --extra-index-url have no effect"),
            "{:?}",
            ineffective(&both, wheelhouse)
        );
    }
}
