//! dh_rustvenv: a debhelper program that builds a Python virtualenv into a Debian package.
//!
//! The pipeline runs once for every selected package, each stage taking what the one before returned:
//! [`options`] and [`debhelper`] say what to act on, [`Layout`] says where, [`interpreter`] finds the
//! Python, [`install`] builds the venv in the staging tree, [`relocate`] rewrites it for its final path,
//! [`elf`] strips its compiled code safely, [`audit`] proves that nothing names the build tree, and
//! [`depends`] writes `${rustvenv:Depends}`.
//! [`build_package`] is that pipeline for one package; run from the drop-in's dh-virtualenv build
//! system (`--buildsystem-destdir`), it takes that build system's variables and defaults
//! ([`buildsystem`]). Rules often add files to the venv afterwards (override targets, dh_install, the
//! staged interpreter run to generate files), so the pipeline
//! records what it left ([`finish::State`], an [`inventory::Snapshot`]) and [`finish::finish_package`],
//! the late stage `dh_rustvenv_finish`, takes whatever was added or changed since through the same
//! stages before dh_strip, dh_shlibdeps and dh_md5sums run.

pub mod audit;
pub mod buildsystem;
pub mod bytecode;
pub mod command;
pub mod debhelper;
pub mod depends;
pub mod elf;
pub mod finish;
pub mod install;
pub mod interpreter;
pub mod interrupt;
pub mod inventory;
pub mod layout;
pub mod leak;
pub mod lintian;
pub mod normalize;
pub mod options;
pub mod pathmatch;
pub mod record;
pub mod relocate;
pub mod shebang;
pub mod tree;
pub mod wheelhouse;

use std::fs;
use std::path::{Path, PathBuf};

use layout::{Flavour, Layout, normalize, spellings};

use anyhow::{Context, Result, bail};

use debhelper::{Environment, Package, Reporter};
use options::Options;

/// What both a build and `--download` start from: where the venv goes, the interpreter, and what to
/// install; nothing is written.
fn prepare(
    package: &Package,
    options: &Options,
    env: &Environment,
    flavour: Flavour,
) -> Result<(Layout, interpreter::Interpreter, install::InstallPlan)> {
    let top = std::env::current_dir().context("finding the current directory")?;
    let build_system = options
        .venv
        .buildsystem_destdir
        .is_some()
        .then(|| buildsystem::Settings::from_env(&env.dh_virtualenv))
        .transpose()?;
    let layout = Layout::new(package, options, env, &top, flavour)?;
    let python = build_system
        .as_ref()
        .and_then(|b| b.python.as_deref())
        .unwrap_or(&options.venv.python);
    let interpreter = interpreter::probe(python, env.path.as_deref())?;
    let plan = install::plan(
        &layout,
        &options.venv,
        &interpreter,
        env,
        flavour,
        build_system.as_ref(),
    )?;
    Ok((layout, interpreter, plan))
}

/// Runs the whole pipeline for one package. Files already in the venv's directory (put there by
/// dh_install or an earlier override target) are kept and go through every stage with the rest. On
/// failure nothing is left in the package build directory but those files: the venv and the
/// directories created for it are removed, and no substvar or script snippet is written.
///
/// # Errors
/// The first stage's error, with context naming the step.
pub fn build_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
    flavour: Flavour,
) -> Result<()> {
    let (layout, interpreter, plan) = prepare(package, options, env, flavour)?;
    reporter.verbose_print(format!(
        "# venv for {} at {} with {}",
        package.name,
        layout.final_root.display(),
        interpreter.path.display()
    ));
    if reporter.no_act {
        return install::build(&layout, &interpreter, &plan, reporter);
    }
    if options.venv.use_system_packages && !package.relations.names_python3_package() {
        // What the venv imports from the system's site-packages cannot be seen from the venv.
        reporter.warning(format!(
            "package {}: -S/--use-system-packages lets the venv import the system's Python packages, \
             but debian/control names no python3-* package in its Depends; add the ones the \
             application imports (python3-systemd, say), or they may be missing where it is installed",
            package.name
        ));
    }
    let no_strip = finish::no_strip(env, options.venv.no_strip, reporter)?;
    let package_work_dir = layout.work_dir.join(&package.name);
    let mut staging = StagingDir::create(&layout.staging_root, &package_work_dir)?;
    install::build(&layout, &interpreter, &plan, reporter)?;
    staging.restore_preexisting()?;

    let interpreter_dependency = match depends::interpreter_dependency(&interpreter)? {
        Some(dependency) => Some(dependency),
        None => {
            reporter.warning(format!(
                "package {}: no Debian package ships {}, so the package cannot depend on the \
                 interpreter the venv needs; use --python with Debian's python3.X",
                layout.package,
                interpreter.path.display(),
            ));
            None
        }
    };
    let state = finish::State {
        flavour,
        staging_root: layout.staging_root.clone(),
        final_root: layout.final_root.clone(),
        top: layout.top.clone(),
        interpreter_dependency,
        ship_bytecode: options.venv.ship_bytecode,
        allow_leaks: options.venv.allow_leaks,
        no_strip,
        ignore_library: options.venv.ignore_library.clone(),
        recommends: options.venv.recommends.clone(),
        suggests: options.venv.suggests.clone(),
        substvars: Vec::new(),
        unstripped: Vec::new(),
    };
    let outcome = finish::process(package, &state, None, env, reporter)?;
    staging
        .outside
        .extend(outcome.elf_report.debug_files.iter().cloned());

    // Every output, and only then is the venv kept.
    reporter.interrupts.check()?;
    let overrides = reporter.timed(&package.name, "outputs", || {
        finish::write_outputs(package, state, &outcome, &package_work_dir, reporter)
    })?;
    if let Some(user_overrides) = package.pkgfile("lintian-overrides") {
        let user_overrides = user_overrides.display();
        reporter.warning(format!(
            "package {}: dh_lintian will install {user_overrides} in place of the overrides dh_rustvenv \
             installs; add these lines to it:\n{overrides}",
            package.name
        ));
    }
    if !options.debhelper.no_scripts {
        let bytecode = if options.venv.ship_bytecode {
            relocate::Bytecode::Ship
        } else {
            relocate::Bytecode::CompileOnInstall
        };
        for (script, snippet) in
            relocate::maintainer_scripts(&package.name, &layout.final_root, bytecode)
        {
            debhelper::autoscript(&package.name, script, &snippet)?;
        }
    }
    staging.keep();
    Ok(())
}

/// `--download` and `--download-for`: fills the wheelhouse with what building `package`'s venv needs
/// (for the interpreter dh_rustvenv runs with, or for each target of `--download-for`), and builds
/// nothing.
///
/// # Errors
/// When the interpreter, pip or the package index fail, or the set cannot be completed.
pub fn download_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let (layout, interpreter, plan) = prepare(package, options, env, Flavour::Rustvenv)?;
    let top = layout.top.clone();
    let files = if options.venv.download_for.is_empty() {
        install::download(&layout, &interpreter, &plan, reporter)?
    } else {
        install::download_for(
            &layout,
            &interpreter,
            &plan,
            &options.venv.download_for,
            reporter,
        )?
    };
    let wheelhouse = install::download_wheelhouse(&layout, &plan);
    println!(
        "{}: the wheelhouse {} holds {} distribution(s) for {}",
        debhelper::TOOL,
        wheelhouse
            .strip_prefix(&top)
            .unwrap_or(&wheelhouse)
            .display(),
        files.len(),
        package.name
    );
    Ok(())
}

/// The ELF stage: finds the venv's ELF files and strips those `selected` accepts, unless `no_strip`,
/// sending debug information to the automatic -dbgsym package unless `noautodbgsym`; reports what it
/// found and did, and warns about files it could not read or had to leave alone. Returns the report
/// (every ELF file of the venv, for the dependencies; what this run stripped) and where debug
/// information went.
pub(crate) fn strip_elf_files(
    package: &Package,
    staging_root: &Path,
    selected: &dyn Fn(&Path) -> bool,
    no_strip: bool,
    env: &Environment,
    reporter: &Reporter,
) -> Result<(elf::ElfReport, Option<elf::DebugSymbols>)> {
    let mut report = elf::scan(staging_root)?;
    let shown = |path: &Path| {
        path.strip_prefix(staging_root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    // Every unreadable file stays in the report (lintian still checks it); only those of this run
    // are warned about.
    for (path, why) in report.unreadable.iter().filter(|(path, _)| selected(path)) {
        reporter.warning(format!(
            "package {}: {}: not a valid ELF file ({why}); left as it is",
            package.name,
            shown(path)
        ));
    }
    let debug_symbols =
        (package.automatic_dbgsym && !env.build_option("noautodbgsym")).then(|| {
            elf::DebugSymbols {
                package_dir: Path::new("debian/.debhelper").join(&package.name),
                package: package.name.clone(),
            }
        });
    let mut to_strip = elf::ElfReport {
        files: report
            .files
            .iter()
            .filter(|f| selected(&f.path))
            .cloned()
            .collect(),
        ..elf::ElfReport::default()
    };
    elf::strip(&mut to_strip, no_strip, debug_symbols.as_ref(), reporter)?;
    report.stripped = to_strip.stripped;
    report.skipped = to_strip.skipped;
    report.build_ids = to_strip.build_ids;
    report.debug_files = to_strip.debug_files;
    for file in report.files.iter().filter(|f| selected(&f.path)) {
        reporter.verbose_print(format!(
            "# elf: {} (machine {}) needs {}{}",
            shown(&file.path),
            file.machine,
            if file.needed.is_empty() {
                "nothing".to_owned()
            } else {
                file.needed.join(", ")
            },
            if file.patchelf_layout {
                " (patchelf layout)"
            } else {
                ""
            }
        ));
    }
    for path in &report.stripped {
        reporter.verbose_print(format!("# elf: stripped {}", shown(path)));
    }
    for (path, why) in &report.skipped {
        if matches!(why, elf::SkipReason::NoStrip) {
            reporter.verbose_print(format!("# elf: left {} alone: {why}", shown(path)));
        } else {
            reporter.warning(format!("package {}: {}: {why}", package.name, shown(path)));
        }
    }
    Ok((report, debug_symbols))
}

/// The paths no file of the venv may name: this build's, that is the staging path and the top of the
/// source package in every spelling. The temporary directories pip, uv and the build backends work
/// in are inside the source package (the install stage gives them a `TMPDIR` there), so they are
/// among them; a `/tmp/pip-*` path found in the venv is upstream's ([`audit::upstream_build_paths`]).
///
/// # Errors
/// When they cannot be made into a pattern.
pub(crate) fn forbidden_paths(
    relocation: &relocate::Relocation,
    top: &Path,
) -> Result<pathmatch::PathMatcher> {
    pathmatch::PathMatcher::new(
        relocation
            .staging
            .paths()
            .iter()
            .cloned()
            .chain(spellings(top)),
    )
}

/// The audit stage: fails when a file of the venv still names the staging path or the source package's
/// directory, unless leaks are allowed (then it warns). `leaks` are what relocation found as it read
/// each file; the files changed since (`reread`) are read again, and what they hold replaces that.
pub(crate) fn audit_venv(
    package: &Package,
    staging_root: &Path,
    (forbidden, final_root): (&pathmatch::PathMatcher, &[u8]),
    leaks: &[audit::Leak],
    reread: &std::collections::BTreeSet<PathBuf>,
    allow_leaks: bool,
    reporter: &Reporter,
) -> Result<()> {
    let started = std::time::Instant::now();
    let again: Vec<PathBuf> = reread.iter().cloned().collect();
    let mut leaks: Vec<audit::Leak> = leaks
        .iter()
        .filter(|l| !reread.contains(&l.file))
        .cloned()
        .collect();
    leaks.extend(audit::scan_files(&again, forbidden, final_root)?);
    leaks.sort_by(|a, b| a.file.cmp(&b.file));
    reporter.verbose_print(format!(
        "# audit: {} leak(s), {} file(s) read again, in {} ms",
        leaks.len(),
        again.len(),
        started.elapsed().as_millis()
    ));
    if leaks.is_empty() {
        return Ok(());
    }
    let listing = audit::describe(&leaks, staging_root, 20);
    let message = format!(
        "{} file(s) in the venv still name the build directory:\n{listing}",
        leaks.len()
    );
    if !allow_leaks {
        bail!("{message}\nfix the files above, or pass --allow-leaks to build the package anyway");
    }
    reporter.warning(format!("package {}: {message}", package.name));
    Ok(())
}

/// The depends stage's library part: the packages of the system libraries the venv's ELF files need,
/// as dpkg-shlibdeps writes them (`libc6 (>= 2.34)`).
pub(crate) fn library_dependencies(
    staging_root: &Path,
    final_root: &Path,
    elf_report: &elf::ElfReport,
    ignored: &[String],
    reporter: &Reporter,
) -> Result<Vec<String>> {
    let mut dependencies = Vec::new();
    if elf_report.files.is_empty() {
        return Ok(dependencies);
    }
    let system = depends::system_libraries()?;
    // The first library of that name built for the same machine, as the loader picks it.
    let system_library = |soname: &str, machine: u16| {
        system
            .get(soname)?
            .iter()
            .find(|path| elf::machine_of(path) == Some(machine))
            .cloned()
    };
    let needed = depends::resolve(&elf_report.files, staging_root, final_root, &system_library);
    for library in &needed {
        let file = library
            .file
            .strip_prefix(staging_root)
            .unwrap_or(&library.file);
        reporter.verbose_print(format!(
            "# depends: {} needs {}: {}",
            file.display(),
            library.soname,
            match &library.resolution {
                depends::Resolution::Bundled(path) => format!(
                    "bundled, {}",
                    path.strip_prefix(staging_root).unwrap_or(path).display()
                ),
                depends::Resolution::System(path) => format!("system, {}", path.display()),
                depends::Resolution::Missing => "not found (ignored)".to_owned(),
            }
        ));
    }
    let libraries = depends::shared_library_dependencies(
        &elf_report.files,
        &needed,
        staging_root,
        final_root,
        ignored,
    )?;
    reporter.verbose_print(format!("# depends: {}", libraries.join(", ")));
    dependencies.extend(libraries);
    Ok(dependencies)
}

/// Removes debug files written for the -dbgsym package, and their directories while they are empty
/// (the build-id directory, dbgsym-root).
pub(crate) fn remove_debug_files(files: &[PathBuf]) {
    for file in files {
        let _ = fs::remove_file(file);
        for dir in file.ancestors().skip(1).take(6) {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

/// The staging directory of a venv being built: removed again, with the directories created for it,
/// unless [`StagingDir::keep`] is called. What was in the directory before (files dh_install or an
/// override target put there) is moved aside while the venv is created and installed, then moved back
/// ([`StagingDir::restore_preexisting`]); on failure it is put back as it was.
struct StagingDir {
    root: PathBuf,
    created: Vec<PathBuf>,
    /// Where the earlier content waits while pip runs, when there was any.
    aside: Option<PathBuf>,
    /// Files outside the venv written for it (debug files for the -dbgsym package).
    outside: Vec<PathBuf>,
    keep: bool,
}

impl StagingDir {
    /// Prepares `root` for a new venv: a venv left there by an earlier run is removed; any other content
    /// is moved to `work_dir/preexisting` until the venv is installed.
    fn create(root: &Path, work_dir: &Path) -> Result<StagingDir> {
        let mut aside = None;
        if fs::symlink_metadata(root).is_ok() {
            if root.join("pyvenv.cfg").is_file() {
                fs::remove_dir_all(root)
                    .with_context(|| format!("removing the earlier venv {}", root.display()))?;
            } else if !root.is_dir() || root.is_symlink() {
                bail!(
                    "{} is in the way of the venv: it is not a directory (a file or a symlink put there \
                     before dh_rustvenv ran, by dh_install, dh_link or an override target); install it \
                     elsewhere, or choose another place for the venv with --install-suffix",
                    root.display()
                );
            } else {
                let place = work_dir.join("preexisting");
                if fs::symlink_metadata(&place).is_ok() {
                    fs::remove_dir_all(&place)
                        .with_context(|| format!("removing {}", place.display()))?;
                }
                fs::create_dir_all(work_dir)
                    .with_context(|| format!("creating {}", work_dir.display()))?;
                fs::rename(root, &place).with_context(|| {
                    format!("moving {} aside to {}", root.display(), place.display())
                })?;
                aside = Some(place);
            }
        }
        let mut created = Vec::new();
        let mut dir = root;
        while !dir.exists() {
            created.push(dir.to_path_buf());
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
        Ok(StagingDir {
            root: root.to_path_buf(),
            created,
            aside,
            outside: Vec::new(),
            keep: false,
        })
    }

    /// Moves the earlier content back into the installed venv.
    ///
    /// # Errors
    /// When pip installed a file where an earlier one stood: the message names both, and the
    /// distribution that installed it.
    fn restore_preexisting(&mut self) -> Result<()> {
        let Some(aside) = &self.aside else {
            return Ok(());
        };
        if let Some(path) = collisions(aside, &self.root)?.first() {
            let relative = path.strip_prefix(&self.root).unwrap_or(path);
            let owner = installed_by(&self.root, path)
                .map(|d| format!(" (from the distribution {d})"))
                .unwrap_or_default();
            bail!(
                "{} was in the venv directory before the venv was created (put there by dh_install or an \
                 earlier override target), and pip installed {}{owner} at the same place; install your file \
                 under another name, or after dh_rustvenv (in an override_dh_rustvenv target)",
                aside.join(relative).display(),
                path.display(),
            );
        }
        merge_tree(aside, &self.root)?;
        let _ = fs::remove_dir_all(aside);
        self.aside = None;
        Ok(())
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

/// The entries of the tree `to` that an entry of the tree `from` would replace if the two were merged
/// (a directory merges with a directory; anything else collides).
fn collisions(from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in tree::walk(from).skip(1) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = to.join(relative);
        let collides = fs::symlink_metadata(&target)
            .is_ok_and(|existing| !(entry.file_type().is_dir() && existing.is_dir()));
        if collides {
            found.push(target);
        }
    }
    Ok(found)
}

/// Moves every entry of the tree `from` into the tree `to`, merging directories; [`collisions`] must
/// have found none.
fn merge_tree(from: &Path, to: &Path) -> Result<()> {
    let entries: Vec<_> = fs::read_dir(from)
        .with_context(|| format!("reading {}", from.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let source = entry.path();
        let target = to.join(entry.file_name());
        if fs::symlink_metadata(&target).is_ok() {
            merge_tree(&source, &target)?;
        } else {
            fs::rename(&source, &target)
                .with_context(|| format!("moving {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

/// The name of the installed distribution whose RECORD lists `path` (PEP 376), if any.
fn installed_by(venv: &Path, path: &Path) -> Option<String> {
    let lib = venv.join("lib");
    for entry in tree::walk(&lib).filter_map(|e| e.ok()) {
        let record = entry.path();
        if record.file_name().is_none_or(|n| n != "RECORD") {
            continue;
        }
        let dist_info = record.parent()?;
        let base = dist_info.parent()?;
        let text = fs::read_to_string(record).ok()?;
        let listed = text.lines().any(|row| {
            let name = row.split(',').next().unwrap_or_default();
            normalize(&base.join(name)) == path
        });
        if listed {
            let name = dist_info.file_name()?.to_string_lossy();
            return Some(name.trim_end_matches(".dist-info").to_owned());
        }
    }
    None
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = fs::remove_dir_all(&self.root);
        remove_debug_files(&self.outside);
        if let Some(aside) = &self.aside {
            // The earlier content goes back as it was.
            let _ = fs::rename(aside, &self.root);
            return;
        }
        for dir in &self.created {
            // Only directories this run created, and only while they are empty.
            let _ = fs::remove_dir(dir);
        }
    }
}
