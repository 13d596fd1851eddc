//! The stages after installation, and the late stage that runs them again on what rules added later.
//!
//! [`process`] takes an installed venv and a [`State`] (where it was built, where it goes, what the run
//! was told) and relocates, strips, normalizes and records the entries it is given (all of them when
//! dh_rustvenv builds the venv), then audits the whole venv and works out the dependencies of all of
//! it. [`write_outputs`] writes the substvars, registers debug files and saves the state together
//! with a [`Snapshot`] of the venv in `debian/.debhelper/rustvenv/<package>/`.
//!
//! Rules add to the venv after dh_rustvenv: an override target copies a program into `bin/`, the
//! staged interpreter is run to generate a file (and writes bytecode naming the staging path), a
//! `.install` file fills a directory. [`finish_package`], run as `dh_rustvenv_finish` after dh_missing
//! and so after every override that can add files and before dh_strip, dh_shlibdeps and dh_md5sums,
//! compares the venv with the snapshot and takes every entry added or changed since through the same
//! stages; the audit and the dependencies cover the whole venv again. It writes nothing for a package
//! without a state (dh_rustvenv did not build it).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use crate::debhelper::{self, Environment, Package, Reporter};
use crate::inventory::Snapshot;
use crate::layout::Flavour;
use crate::options::Options;
use crate::{audit, depends, elf, lintian, relocate};

/// A substvar and one item of its value: (`misc:Depends`, `python3.11`).
pub type SubstvarItem = (String, String);

/// An ELF file left unstripped because stripping would break it, and why.
pub type Unstripped = (PathBuf, String);

/// What the late stage needs to know of the run that built a venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The front door the venv was built through.
    pub flavour: Flavour,
    /// Where the venv was built (absolute).
    pub staging_root: PathBuf,
    /// Where it will live.
    pub final_root: PathBuf,
    /// The top of the source package (absolute), which no file may name.
    pub top: PathBuf,
    /// The interpreter's package as a dependency (`python3.11`), when a Debian package ships it.
    pub interpreter_dependency: Option<String>,
    /// `--ship-bytecode`.
    pub ship_bytecode: bool,
    /// `--allow-leaks`.
    pub allow_leaks: bool,
    /// Whether ELF files stay unstripped ([`no_strip`]).
    pub no_strip: bool,
    /// `--ignore-library`.
    pub ignore_library: Vec<String>,
    /// `--recommends`.
    pub recommends: Vec<String>,
    /// `--suggests`.
    pub suggests: Vec<String>,
    /// The (substvar, item) pairs written to `debian/<package>.substvars`, so that a later run can
    /// take them back before it writes its own.
    pub substvars: Vec<SubstvarItem>,
    /// ELF files left unstripped because stripping would break them, and why (for their lintian
    /// overrides).
    pub unstripped: Vec<Unstripped>,
}

fn hex_path(path: &Path) -> String {
    crate::inventory::hex(path.as_os_str().as_encoded_bytes())
}

fn unhex_path(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    crate::inventory::unhex(text).map(|b| PathBuf::from(std::ffi::OsStr::from_bytes(&b)))
}

impl State {
    /// The state as JSON; paths are hex-encoded bytes, since they need not be UTF-8.
    pub fn to_json(&self) -> String {
        let value = json!({
            "flavour": self.flavour.name(),
            "staging_root": hex_path(&self.staging_root),
            "final_root": hex_path(&self.final_root),
            "top": hex_path(&self.top),
            "interpreter_dependency": self.interpreter_dependency,
            "ship_bytecode": self.ship_bytecode,
            "allow_leaks": self.allow_leaks,
            "no_strip": self.no_strip,
            "ignore_library": self.ignore_library,
            "recommends": self.recommends,
            "suggests": self.suggests,
            "substvars": self.substvars,
            "unstripped": self
                .unstripped
                .iter()
                .map(|(path, why)| (hex_path(path), why))
                .collect::<Vec<_>>(),
        });
        format!("{value:#}\n")
    }

    /// Reads what [`State::to_json`] wrote.
    ///
    /// # Errors
    /// When the text is not such a state; the message names the field.
    pub fn from_json(text: &str) -> Result<State> {
        let value: Value = serde_json::from_str(text)?;
        let field = |name: &str| -> Result<&Value> {
            value
                .get(name)
                .ok_or_else(|| anyhow!("the field `{name}` is missing"))
        };
        let string = |name: &str| -> Result<String> {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the field `{name}` is not a string"))
        };
        let path = |name: &str| -> Result<PathBuf> {
            unhex_path(&string(name)?).ok_or_else(|| anyhow!("the field `{name}` is not hex"))
        };
        let flag = |name: &str| -> Result<bool> {
            field(name)?
                .as_bool()
                .ok_or_else(|| anyhow!("the field `{name}` is not true or false"))
        };
        let strings = |name: &str| -> Result<Vec<String>> {
            field(name)?
                .as_array()
                .ok_or_else(|| anyhow!("the field `{name}` is not a list"))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("`{name}` holds something other than text"))
                })
                .collect()
        };
        let flavour = string("flavour")?;
        let substvars = field("substvars")?
            .as_array()
            .ok_or_else(|| anyhow!("the field `substvars` is not a list"))?
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(name), Value::String(item)]) => {
                    Ok((name.clone(), item.clone()))
                }
                _ => Err(anyhow!("`substvars` holds something other than pairs")),
            })
            .collect::<Result<_>>()?;
        let unstripped = field("unstripped")?
            .as_array()
            .ok_or_else(|| anyhow!("the field `unstripped` is not a list"))?
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(path), Value::String(why)]) => Ok((
                    unhex_path(path).ok_or_else(|| anyhow!("`unstripped` holds a bad path"))?,
                    why.clone(),
                )),
                _ => Err(anyhow!("`unstripped` holds something other than pairs")),
            })
            .collect::<Result<_>>()?;
        Ok(State {
            flavour: Flavour::from_name(&flavour)
                .ok_or_else(|| anyhow!("unknown flavour `{flavour}`"))?,
            staging_root: path("staging_root")?,
            final_root: path("final_root")?,
            top: path("top")?,
            interpreter_dependency: match field("interpreter_dependency")? {
                Value::Null => None,
                other => Some(
                    other
                        .as_str()
                        .ok_or_else(|| anyhow!("`interpreter_dependency` is not text"))?
                        .to_owned(),
                ),
            },
            ship_bytecode: flag("ship_bytecode")?,
            allow_leaks: flag("allow_leaks")?,
            no_strip: flag("no_strip")?,
            ignore_library: strings("ignore_library")?,
            recommends: strings("recommends")?,
            suggests: strings("suggests")?,
            substvars,
            unstripped,
        })
    }
}

/// The state file and the snapshot of `package`, in its work directory.
fn state_files(work_dir: &Path) -> (PathBuf, PathBuf) {
    (work_dir.join("state.json"), work_dir.join("snapshot"))
}

/// Whether the venv's ELF files stay unstripped: `DEB_BUILD_OPTIONS=nostrip`, `--no-strip`, or an
/// empty `override_dh_strip` (or `override_dh_strip-arch`) target in debian/rules, which is how rules
/// written for dh-virtualenv say "do not strip" (dh then skips dh_strip, which was what stripped the
/// venv there).
///
/// # Errors
/// When debian/rules cannot be read by make.
///
/// # References
/// Debian Policy 10.1 (`nostrip`); dh(1), "empty override targets".
pub fn no_strip(env: &Environment, option: bool, reporter: &Reporter) -> Result<bool> {
    if option || env.build_option("nostrip") {
        return Ok(true);
    }
    if !Path::new("debian/rules").is_file() {
        return Ok(false);
    }
    let targets = debhelper::rules_targets()?;
    let empty = ["override_dh_strip", "override_dh_strip-arch"]
        .into_iter()
        .find(|t| targets.get(*t) == Some(&false));
    if let Some(target) = empty {
        reporter.verbose_print(format!(
            "# debian/rules has an empty {target}: the venv's ELF files are left unstripped"
        ));
    }
    Ok(empty.is_some())
}

/// What [`process`] found and did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every ELF file of the venv, and what this run stripped.
    pub elf_report: elf::ElfReport,
    /// Where debug information went, when it goes to a -dbgsym package.
    pub debug_symbols: Option<elf::DebugSymbols>,
    /// The (substvar, item) pairs the package needs.
    pub substvars: Vec<SubstvarItem>,
    /// The ELF files left unstripped because stripping would break them, earlier runs' included.
    pub unstripped: Vec<Unstripped>,
}

/// Runs the stages after installation on the venv of `state`: relocation, stripping, archive
/// normalization and RECORD updates on the entries in `changed` (every entry when None), bytecode for
/// `--ship-bytecode`, then the audit and the dependencies over the whole venv.
///
/// # Errors
/// The first stage's error, with context naming the step; a leak, unless leaks are allowed.
pub fn process(
    package: &Package,
    state: &State,
    changed: Option<&BTreeSet<PathBuf>>,
    env: &Environment,
    reporter: &Reporter,
) -> Result<Outcome> {
    let root = &state.staging_root;
    let selected = |path: &Path| changed.is_none_or(|c| c.contains(path));
    let relocation = relocate::Relocation::new(
        crate::layout::spellings(root),
        state.final_root.as_os_str().as_encoded_bytes().to_vec(),
    )?;
    let name = package.name.as_str();
    let forbidden = crate::forbidden_paths(&relocation, &state.top)?;
    let upstream = audit::upstream_build_paths()?;
    let relocated = reporter
        .timed(name, "relocate", || {
            relocate::relocate(root, &relocation, &selected, (&forbidden, &upstream))
        })
        .context("relocating the venv")?;
    for file in &relocated.rewritten {
        reporter.verbose_print(format!("# relocated {}", file.display()));
    }
    if !relocated.upstream.is_empty() {
        // As lintian's upstream tags: information about what upstream published, not a fault of
        // this build.
        reporter.verbose_print(format!(
            "# audit: {} file(s) name build paths of the machines upstream built on, kept as \
             published:\n{}",
            relocated.upstream.len(),
            audit::describe(&relocated.upstream, root, usize::MAX)
        ));
    }
    let (elf_report, debug_symbols) = reporter.timed(name, "elf", || {
        crate::strip_elf_files(package, root, &selected, state.no_strip, env, reporter)
    })?;
    // Archive normalization, RECORD, bytecode, the audit and the dependencies; when one fails, the
    // debug files this run wrote for the -dbgsym package go with the failure.
    let after_stripping = || -> Result<(Vec<SubstvarItem>, Vec<Unstripped>)> {
        let mut unstripped: Vec<Unstripped> = state
            .unstripped
            .iter()
            .filter(|(path, _)| !selected(path) && path.is_file())
            .cloned()
            .collect();
        unstripped.extend(
            elf_report
                .skipped
                .iter()
                .filter(|(_, why)| {
                    matches!(
                        why,
                        elf::SkipReason::WouldBreakLoading(_) | elf::SkipReason::StripFailed(_)
                    )
                })
                .map(|(path, why)| (path.clone(), why.to_string())),
        );
        let normalized = reporter.timed(name, "normalize", || {
            relocate::strip_nondeterminism(&relocated.archive_candidates, reporter)
        })?;
        let rewritten: BTreeSet<&Path> = relocated
            .rewritten
            .iter()
            .chain(&elf_report.stripped)
            .chain(&normalized)
            .map(PathBuf::as_path)
            .collect();
        let records = reporter.timed(name, "record", || {
            relocate::update_records(root, &rewritten)
        })?;
        // What changed after relocation read it is read again by the audit: stripped files,
        // normalized archives, RECORDs, and the bytecode --ship-bytecode compiles.
        let mut reread: BTreeSet<PathBuf> = elf_report
            .stripped
            .iter()
            .chain(&normalized)
            .chain(&records)
            .cloned()
            .collect();
        if state.ship_bytecode && relocated.regular_files > 0 {
            reporter.timed(name, "bytecode", || {
                relocate::compile_bytecode(root, &state.final_root, reporter)
            })?;
            reread.extend(
                crate::tree::walk(root)
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_file())
                    .map(|e| e.into_path())
                    .filter(|p| p.extension().is_some_and(|e| e == "pyc")),
            );
        }
        reporter.timed(name, "audit", || {
            crate::audit_venv(
                package,
                root,
                (&forbidden, &relocation.final_root),
                &relocated.leaks,
                &reread,
                state.allow_leaks,
                reporter,
            )
        })?;
        let libraries = reporter
            .timed(name, "depends", || {
                crate::library_dependencies(
                    root,
                    &state.final_root,
                    &elf_report,
                    &state.ignore_library,
                    reporter,
                )
            })
            .context("working out the shared-library dependencies")?;
        let shlibs_taken = state.flavour == Flavour::DhVirtualenv
            && !libraries.is_empty()
            && elf_outside(&state.top.join(&package.tmpdir), root)?;
        if shlibs_taken {
            reporter.warning(format!(
                "package {}: it has ELF files outside the venv, for which dh_shlibdeps rewrites \
                 ${{shlibs:Depends}}; the venv's library dependencies go into ${{misc:Depends}} \
                 instead",
                package.name
            ));
        }
        let placement = depends::place_dependencies(
            state.flavour,
            &package.relations,
            state.interpreter_dependency.as_deref(),
            &libraries,
            (&state.recommends, &state.suggests),
            shlibs_taken,
        );
        for note in &placement.notes {
            reporter.note(format!("package {}: {note}", package.name));
        }
        for warning in &placement.warnings {
            reporter.warning(format!("package {}: {warning}", package.name));
        }
        let substvars = placement.items;
        Ok((substvars, unstripped))
    };
    match after_stripping() {
        Ok((substvars, unstripped)) => Ok(Outcome {
            elf_report,
            debug_symbols,
            substvars,
            unstripped,
        }),
        Err(e) => {
            crate::remove_debug_files(&elf_report.debug_files);
            Err(e)
        }
    }
}

/// Whether the package build directory `tmpdir` (absolute) holds an ELF file outside the venv at
/// `staging_root`.
fn elf_outside(tmpdir: &Path, staging_root: &Path) -> Result<bool> {
    if !tmpdir.is_dir() {
        // The venv of dh-virtualenv's build system went to debian/tmp, before dh_install.
        return Ok(false);
    }
    for entry in crate::tree::walk(tmpdir).filter_entry(|e| e.path() != staging_root) {
        let entry = entry.with_context(|| format!("reading {}", tmpdir.display()))?;
        if entry.file_type().is_file() && crate::tree::is_elf_file(entry.path()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes what [`process`] worked out: the lintian overrides the venv as shipped needs, the substvars
/// (taking back what an earlier run of the state wrote), the build-ids of the debug files, and the
/// state with a snapshot of the venv, last. Returns the overrides.
///
/// # Errors
/// When a file cannot be written; the message names it.
pub fn write_outputs(
    package: &Package,
    mut state: State,
    outcome: &Outcome,
    work_dir: &Path,
    reporter: &Reporter,
) -> Result<String> {
    let embedded = lintian::embedded_libraries(Path::new(lintian::EMBEDDED_LIBS))?;
    for key in &embedded.unreadable {
        reporter.warning(format!(
            "package {}: the entry {key} of {} has a pattern that cannot be run here; its \
             embedded-library tags are not overridden",
            package.name,
            lintian::EMBEDDED_LIBS
        ));
    }
    // Lintian takes a binary package's source from its Source field, else its own name.
    let source =
        debhelper::source_name(Path::new("debian/control")).unwrap_or_else(|| package.name.clone());
    let unparsed: Vec<PathBuf> = outcome
        .elf_report
        .unreadable
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    let facts = lintian::VenvFacts {
        elf_files: &outcome.elf_report.files,
        unparsed_elf_files: &unparsed,
        unstripped: &outcome.unstripped,
        embedded_libraries: &embedded.libraries,
        source_package: &source,
    };
    let overrides = lintian::venv_overrides(
        &package.name,
        &state.final_root,
        &state.staging_root,
        &facts,
    );
    lintian::install_overrides(package, &overrides)?;
    let earlier: BTreeSet<&(String, String)> = state.substvars.iter().collect();
    let now: BTreeSet<&(String, String)> = outcome.substvars.iter().collect();
    for (substvar, item) in earlier.difference(&now) {
        debhelper::remove_substvar_items(&package.name, substvar, std::slice::from_ref(item))?;
    }
    for (substvar, item) in now.difference(&earlier) {
        reporter.verbose_print(format!(
            "echo '{substvar}={item}' >> debian/{}.substvars",
            package.name
        ));
        debhelper::add_substvar(&package.name, substvar, item)?;
    }
    if let Some(debug) = &outcome.debug_symbols {
        elf::record_build_ids(debug, &outcome.elf_report.build_ids)?;
    }
    state.substvars = outcome.substvars.clone();
    state.unstripped = outcome.unstripped.clone();
    let (state_file, snapshot_file) = state_files(work_dir);
    fs::create_dir_all(work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
    let snapshot = Snapshot::take(&state.staging_root)?;
    crate::tree::replace(&snapshot_file, snapshot.to_text().as_bytes())?;
    crate::tree::replace(&state_file, state.to_json().as_bytes())?;
    Ok(overrides)
}

/// The late stage for one package: takes the entries of its venv that were added or changed since
/// dh_rustvenv ran through [`process`], and rewrites the outputs. Options given to it add to what
/// the state says (`--allow-leaks`, `--no-strip`, `--ignore-library`).
///
/// # Errors
/// When the state cannot be read, or as [`process`].
pub fn finish_package(
    package: &Package,
    options: &Options,
    env: &Environment,
    reporter: &Reporter,
) -> Result<()> {
    let work_dir = Path::new(crate::layout::WORK_DIR).join(&package.name);
    let (state_file, snapshot_file) = state_files(&work_dir);
    let text = match fs::read_to_string(&state_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            reporter.verbose_print(format!(
                "# {}: no venv built by dh_rustvenv; nothing to finish",
                package.name
            ));
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_file.display())),
    };
    let mut state = State::from_json(&text).with_context(|| {
        format!(
            "reading {} (written by dh_rustvenv; run the build again from a clean tree)",
            state_file.display()
        )
    })?;
    if !state.staging_root.is_dir() {
        reporter.warning(format!(
            "package {}: {} was removed after dh_rustvenv built it; nothing to finish",
            package.name,
            state.staging_root.display()
        ));
        return Ok(());
    }
    let earlier = Snapshot::from_text(
        &fs::read_to_string(&snapshot_file)
            .with_context(|| format!("reading {}", snapshot_file.display()))?,
    )
    .with_context(|| format!("reading {}", snapshot_file.display()))?;
    let now = reporter.timed(&package.name, "snapshot", || {
        Snapshot::take(&state.staging_root)
    })?;
    let changed: BTreeSet<PathBuf> = now
        .added_or_changed(&earlier, &state.staging_root)
        .into_iter()
        .collect();
    for path in &changed {
        reporter.verbose_print(format!(
            "# added or changed since dh_rustvenv: {}",
            path.strip_prefix(&state.staging_root)
                .unwrap_or(path)
                .display()
        ));
    }
    let settings = (
        state.allow_leaks,
        state.no_strip,
        state.ignore_library.clone(),
    );
    state.allow_leaks |= options.venv.allow_leaks;
    state.no_strip |= no_strip(env, options.venv.no_strip, reporter)?;
    for library in &options.venv.ignore_library {
        if !state.ignore_library.contains(library) {
            state.ignore_library.push(library.clone());
        }
    }
    if reporter.no_act {
        return Ok(());
    }
    if now == earlier
        && settings
            == (
                state.allow_leaks,
                state.no_strip,
                state.ignore_library.clone(),
            )
    {
        // Nothing added, changed or removed, and no option that changes the outcome: what
        // dh_rustvenv wrote stands.
        reporter.verbose_print(format!(
            "# {}: the venv is as dh_rustvenv left it; nothing to finish",
            package.name
        ));
        return Ok(());
    }
    let outcome = process(package, &state, Some(&changed), env, reporter)?;
    reporter.timed(&package.name, "outputs", || {
        write_outputs(package, state, &outcome, &work_dir, reporter).map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_round_trip_with_odd_paths() {
        use std::os::unix::ffi::OsStrExt;
        let state = State {
            flavour: Flavour::DhVirtualenv,
            staging_root: PathBuf::from(std::ffi::OsStr::from_bytes(b"/b\xff/debian/x/opt/x")),
            final_root: PathBuf::from("/opt/x"),
            top: PathBuf::from("/b"),
            interpreter_dependency: Some("python3.11".into()),
            ship_bytecode: false,
            allow_leaks: true,
            no_strip: false,
            ignore_library: vec!["libcuda.so.1".into()],
            recommends: vec!["libpq5".into()],
            suggests: Vec::new(),
            substvars: vec![("misc:Depends".into(), "python3.11".into())],
            unstripped: vec![(
                PathBuf::from(std::ffi::OsStr::from_bytes(b"/b/x\xfe.so")),
                "stripping would break loading".into(),
            )],
        };
        assert_eq!(State::from_json(&state.to_json()).unwrap(), state);
        let broken = state
            .to_json()
            .replace("\"allow_leaks\": true", "\"allow_leaks\": 1");
        let error = State::from_json(&broken).unwrap_err().to_string();
        assert!(error.contains("allow_leaks"), "{error}");
        assert!(State::from_json("{").is_err());
    }
}
