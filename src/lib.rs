//! dh_rustvenv: a debhelper program that builds a Python virtualenv into a Debian package.
//!
//! The pipeline runs once for every selected package, each stage taking what the one before returned:
//! [`options`] and [`debhelper`] say what to act on, [`Layout`] says where, [`interpreter`] finds the
//! Python, [`install`] builds the venv in the staging tree, [`relocate`] rewrites it for its final path,
//! [`elf`] strips its compiled code safely, [`audit`] proves that nothing names the build tree, and
//! [`depends`] writes `${rustvenv:Depends}`.
//! [`build_package`] is that pipeline for one package.

pub mod audit;
pub mod debhelper;
pub mod depends;
pub mod elf;
pub mod install;
pub mod interpreter;
pub mod options;
pub mod relocate;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use debhelper::{Environment, Package, Reporter};
use options::Options;

/// The directory venvs are installed under when `DH_RUSTVENV_INSTALL_ROOT` is not set.
pub const DEFAULT_INSTALL_ROOT: &str = "/opt/venvs";

/// Where one package's venv is built and where it will live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The binary package's name.
    pub package: String,
    /// The top of the source package (absolute): the directory dh runs in.
    pub top: PathBuf,
    /// The Python project's directory (absolute): the top of the source package, or `-D`.
    pub source_dir: PathBuf,
    /// Where the venv is built (absolute): `<tmpdir>/<final_root>`, e.g.
    /// `/build/demo-1.0/debian/demo/opt/venvs/demo`.
    pub staging_root: PathBuf,
    /// Where the venv lives once the package is installed: `<install root>/<install suffix>`, e.g.
    /// `/opt/venvs/demo`.
    pub final_root: PathBuf,
    /// dh_rustvenv's scratch directory, `debian/.debhelper/rustvenv` (absolute); dh_clean removes it.
    pub work_dir: PathBuf,
}

impl Layout {
    /// Works out the layout of `package` from the options and the environment, relative to `top`, the
    /// top of the source package (the directory dh runs in).
    ///
    /// # Errors
    /// When `DH_RUSTVENV_INSTALL_ROOT` is not an absolute path, the install suffix is not a plain
    /// directory name, or the source directory does not exist.
    pub fn new(
        package: &Package,
        options: &Options,
        env: &Environment,
        top: &Path,
    ) -> Result<Layout> {
        let root = env
            .install_root
            .as_deref()
            .or(env.dh_virtualenv.install_root.as_deref())
            .unwrap_or(DEFAULT_INSTALL_ROOT);
        let root = normalize(Path::new(root));
        if !root.is_absolute() || root == Path::new("/") {
            bail!(
                "DH_RUSTVENV_INSTALL_ROOT must be an absolute directory such as /opt/venvs, not `{}`",
                root.display()
            );
        }
        let suffix = options
            .venv
            .install_suffix
            .as_deref()
            .or(env.dh_virtualenv.install_suffix.as_deref())
            .unwrap_or(&package.name);
        if suffix.is_empty() || suffix.contains('/') || suffix == "." || suffix == ".." {
            bail!("--install-suffix must be a plain directory name, not `{suffix}`");
        }
        let final_root = root.join(suffix);
        let source_dir = normalize(
            &top.join(
                options
                    .venv
                    .sourcedirectory
                    .as_deref()
                    .unwrap_or(Path::new(".")),
            ),
        );
        if !source_dir.is_dir() {
            bail!(
                "source directory {} not found (named with -D/--sourcedirectory)",
                source_dir.display()
            );
        }
        let relative_final = final_root.strip_prefix("/").unwrap_or(&final_root);
        Ok(Layout {
            package: package.name.clone(),
            top: top.to_path_buf(),
            source_dir,
            staging_root: normalize(&top.join(&package.tmpdir).join(relative_final)),
            final_root,
            work_dir: top.join("debian/.debhelper/rustvenv"),
        })
    }
}

/// Resolves `.` and `..` components and drops trailing slashes, without touching the file system
/// (symlinks are not followed: `a/b/..` is `a`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What both a build and `--download` start from: where the venv goes, the interpreter, and what to
/// install; nothing is written.
fn prepare(
    package: &Package,
    options: &Options,
    env: &Environment,
) -> Result<(Layout, interpreter::Interpreter, install::InstallPlan)> {
    let top = std::env::current_dir().context("finding the current directory")?;
    let layout = Layout::new(package, options, env, &top)?;
    let interpreter = interpreter::probe(&options.venv.python)?;
    let plan = install::plan(&layout, &options.venv, &interpreter, env)?;
    Ok((layout, interpreter, plan))
}

/// Runs the whole pipeline for one package. On failure nothing is left in the package build directory:
/// the venv and the directories created for it are removed, and no substvar or script snippet is written.
///
/// # Errors
/// The first stage's error, with context naming the step.
pub fn build_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let (layout, interpreter, plan) = prepare(package, options, env)?;
    let top = layout.top.clone();
    reporter.verbose_print(format!(
        "# venv for {} at {} with {}",
        package.name,
        layout.final_root.display(),
        interpreter.path.display()
    ));
    if reporter.no_act {
        return install::build(&layout, &interpreter, &plan, reporter);
    }

    let mut staging = StagingDir::create(&layout.staging_root)?;
    install::build(&layout, &interpreter, &plan, reporter)?;
    let relocation = relocate::Relocation {
        staging_paths: spellings(&layout.staging_root),
        final_root: layout.final_root.as_os_str().as_encoded_bytes().to_vec(),
    };
    let relocated =
        relocate::relocate(&layout.staging_root, &relocation).context("relocating the venv")?;
    for file in &relocated.rewritten {
        reporter.verbose_print(format!("# relocated {}", file.display()));
    }
    let (elf_report, debug_symbols) = strip_elf_files(package, &layout, env, reporter)?;
    staging
        .outside
        .extend(elf_report.debug_files.iter().cloned());
    let normalized = relocate::strip_nondeterminism(&layout.staging_root, reporter)?;
    let changed: BTreeSet<&Path> = relocated
        .rewritten
        .iter()
        .chain(&elf_report.stripped)
        .chain(&normalized)
        .map(PathBuf::as_path)
        .collect();
    relocate::update_records(&layout.staging_root, &changed)?;
    let bytecode = if options.venv.ship_bytecode {
        relocate::compile_bytecode(&layout.staging_root, &layout.final_root, reporter)?;
        relocate::Bytecode::Ship
    } else {
        relocate::Bytecode::CompileOnInstall
    };
    audit_venv(
        package,
        &layout,
        &relocation,
        &top,
        options.venv.allow_leaks,
        reporter,
    )?;
    let dependencies = dependencies(
        &layout,
        &interpreter,
        &elf_report,
        &options.venv.ignore_library,
        reporter,
    )
    .context("working out ${rustvenv:Depends}")?;
    let overrides = debhelper::venv_lintian_overrides(&package.name, &layout.final_root);
    debhelper::install_lintian_overrides(package, &overrides)?;
    staging.keep();
    if let Some(debug) = &debug_symbols {
        elf::record_build_ids(debug, &elf_report.build_ids)?;
    }

    if let Some(user_overrides) = package.pkgfile("lintian-overrides") {
        let user_overrides = user_overrides.display();
        reporter.warning(format!(
            "package {}: dh_lintian will install {user_overrides} in place of the overrides dh_rustvenv \
             installs; add these lines to it:\n{overrides}",
            package.name
        ));
    }
    depends::write_substvars(&package.name, &dependencies, reporter)?;
    if !options.debhelper.no_scripts {
        for (script, snippet) in relocate::bytecode_scripts(&layout.final_root, bytecode) {
            debhelper::autoscript(&package.name, script, &snippet)?;
        }
    }
    Ok(())
}

/// `--download`: fills the wheelhouse with what building `package`'s venv needs, and builds nothing.
///
/// # Errors
/// When the interpreter, pip or the package index fail, or the set cannot be completed.
pub fn download_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let (layout, interpreter, plan) = prepare(package, options, env)?;
    let top = layout.top.clone();
    let files = install::download(&layout, &interpreter, &plan, reporter)?;
    let wheelhouse = plan
        .wheelhouse
        .as_deref()
        .unwrap_or(Path::new("debian/wheelhouse"));
    println!(
        "{}: the wheelhouse {} holds {} distribution(s) for {}",
        debhelper::TOOL,
        wheelhouse
            .strip_prefix(&top)
            .unwrap_or(wheelhouse)
            .display(),
        files.len(),
        package.name
    );
    Ok(())
}

/// The ELF stage: finds the venv's ELF files and strips them unless `DEB_BUILD_OPTIONS=nostrip`,
/// sending debug information to the automatic -dbgsym package unless `noautodbgsym`; reports what it
/// found and did, and warns about files it could not read or had to leave alone. Returns the report and
/// where debug information went.
fn strip_elf_files(
    package: &Package,
    layout: &Layout,
    env: &Environment,
    reporter: &Reporter,
) -> Result<(elf::ElfReport, Option<elf::DebugSymbols>)> {
    let mut report = elf::scan(&layout.staging_root)?;
    let shown = |path: &Path| {
        path.strip_prefix(&layout.staging_root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    for (path, why) in &report.unreadable {
        reporter.warning(format!(
            "package {}: {}: not a valid ELF file ({why}); left as it is",
            package.name,
            shown(path)
        ));
    }
    let debug_symbols =
        (package.automatic_dbgsym && !env.build_option("noautodbgsym")).then(|| {
            elf::DebugSymbols {
                package_dir: layout
                    .work_dir
                    .parent()
                    .unwrap_or(&layout.work_dir)
                    .join(&package.name),
                package: package.name.clone(),
            }
        });
    elf::strip(
        &mut report,
        env.build_option("nostrip"),
        debug_symbols.as_ref(),
        reporter,
    )?;
    for file in &report.files {
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

/// The audit stage: fails when a file of the venv still names the staging path or the source package's
/// directory, unless leaks are allowed (then it warns).
fn audit_venv(
    package: &Package,
    layout: &Layout,
    relocation: &relocate::Relocation,
    top: &Path,
    allow_leaks: bool,
    reporter: &Reporter,
) -> Result<()> {
    let forbidden: Vec<audit::Forbidden> = relocation
        .staging_paths
        .iter()
        .cloned()
        .chain(spellings(top))
        .map(|path| audit::Forbidden { path })
        .collect();
    let started = std::time::Instant::now();
    let leaks = audit::scan(&layout.staging_root, &forbidden, &relocation.final_root)?;
    reporter.verbose_print(format!(
        "# audit: {} leak(s) in {} ms",
        leaks.len(),
        started.elapsed().as_millis()
    ));
    if leaks.is_empty() {
        return Ok(());
    }
    let listing = audit::describe(&leaks, &layout.staging_root, 20);
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

/// The depends stage: the interpreter's package, then the system libraries the venv's ELF files need.
fn dependencies(
    layout: &Layout,
    interpreter: &interpreter::Interpreter,
    elf_report: &elf::ElfReport,
    ignored: &[String],
    reporter: &Reporter,
) -> Result<Vec<String>> {
    let mut dependencies = Vec::new();
    match depends::interpreter_dependency(interpreter)? {
        Some(dependency) => dependencies.push(dependency),
        None => reporter.warning(format!(
            "package {}: no Debian package ships {}, so ${{{}}} cannot name the interpreter the venv \
             needs; use --python with Debian's python3.X",
            layout.package,
            interpreter.path.display(),
            depends::SUBSTVAR
        )),
    }
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
    let needed = depends::resolve(
        &elf_report.files,
        &layout.staging_root,
        &layout.final_root,
        &system_library,
    );
    for library in &needed {
        let file = library
            .file
            .strip_prefix(&layout.staging_root)
            .unwrap_or(&library.file);
        reporter.verbose_print(format!(
            "# depends: {} needs {}: {}",
            file.display(),
            library.soname,
            match &library.resolution {
                depends::Resolution::Bundled(path) => format!(
                    "bundled, {}",
                    path.strip_prefix(&layout.staging_root)
                        .unwrap_or(path)
                        .display()
                ),
                depends::Resolution::System(path) => format!("system, {}", path.display()),
                depends::Resolution::Missing => "not found (ignored)".to_owned(),
            }
        ));
    }
    let libraries = depends::shared_library_dependencies(
        &elf_report.files,
        &needed,
        &layout.staging_root,
        &layout.final_root,
        ignored,
    )?;
    reporter.verbose_print(format!("# depends: {}", libraries.join(", ")));
    dependencies.extend(libraries);
    Ok(dependencies)
}

/// The ways a path may be spelled in files: as given and, when it differs, with symlinks resolved.
fn spellings(path: &Path) -> Vec<Vec<u8>> {
    let mut out = vec![path.as_os_str().as_encoded_bytes().to_vec()];
    if let Ok(canonical) = fs::canonicalize(path) {
        let canonical = canonical.into_os_string().into_encoded_bytes();
        if canonical != out[0] {
            out.push(canonical);
        }
    }
    out
}

/// The staging directory of a venv being built: removed again, with the directories created for it,
/// unless [`StagingDir::keep`] is called.
struct StagingDir {
    root: PathBuf,
    created: Vec<PathBuf>,
    /// Files outside the venv written for it (debug files for the -dbgsym package).
    outside: Vec<PathBuf>,
    keep: bool,
}

impl StagingDir {
    /// Prepares `root` for a new venv: a venv left there by an earlier run is removed; anything else
    /// there is an error, since it was put there by someone else.
    fn create(root: &Path) -> Result<StagingDir> {
        if root.exists() {
            if !root.join("pyvenv.cfg").is_file()
                && fs::read_dir(root)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                bail!(
                    "{} already exists and is not a venv; remove what was installed there, or choose another \
                     place with --install-suffix",
                    root.display()
                );
            }
            fs::remove_dir_all(root)
                .with_context(|| format!("removing the earlier venv {}", root.display()))?;
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
            outside: Vec::new(),
            keep: false,
        })
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = fs::remove_dir_all(&self.root);
        for file in &self.outside {
            let _ = fs::remove_file(file);
            // Its directories too, while they are empty (the build-id directory, dbgsym-root).
            for dir in file.ancestors().skip(1).take(6) {
                if fs::remove_dir(dir).is_err() {
                    break;
                }
            }
        }
        for dir in &self.created {
            // Only directories this run created, and only while they are empty.
            let _ = fs::remove_dir(dir);
        }
    }
}
