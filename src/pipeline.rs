//! The stages after installation, in order, used by both programs: dh_rustvenv runs them on the
//! whole venv it built, dh_rustvenv_finish on what rules added or changed since.
//!
//! [`process`] takes an installed venv and a [`State`] (where it was built, where it goes, what the run
//! was told) and relocates, strips, normalizes and records the entries it is given (all of them when
//! dh_rustvenv builds the venv), then audits the whole venv and works out the dependencies of all of
//! it. [`write_outputs`] writes the SBOM into the venv, then the substvars, the license summary,
//! registers debug files and saves the state together with a [`Snapshot`] of the venv (the SBOM in
//! it) in `debian/.debhelper/rustvenv/<package>/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::debhelper::{self, Environment, Package, Reporter};
use crate::inventory::Inventory;
use crate::layout::Flavour;
use crate::outputs::Outputs;
use crate::snapshot::Snapshot;
use crate::state::{State, SubstvarItem, Unstripped, state_files};
use crate::{audit, bytecode, depends, elf, lintian, normalize, record, relocate, sbom};

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
    /// The venv's entries as the stages left them.
    pub inventory: Inventory,
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
    let forbidden = audit::forbidden_paths(&relocation, &state.top)?;
    let upstream = audit::upstream_build_paths()?;
    // The one walk of the venv: every later stage takes its entries from here.
    let mut inventory = reporter.timed(name, "inventory", || Inventory::scan(root))?;
    let relocated = reporter
        .timed(name, "relocate", || {
            relocate::relocate(
                &mut inventory,
                &relocation,
                &selected,
                (&forbidden, &upstream),
            )
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
        elf::strip_elf_files(
            package,
            &inventory,
            &selected,
            state.no_strip,
            env,
            reporter,
        )
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
            normalize::strip_nondeterminism(&relocated.archive_candidates, reporter)
        })?;
        let rewritten: BTreeSet<&Path> = relocated
            .rewritten
            .iter()
            .chain(&elf_report.stripped)
            .chain(&normalized)
            .map(PathBuf::as_path)
            .collect();
        let records = reporter.timed(name, "record", || {
            record::update_records(inventory.files(), &rewritten)
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
                bytecode::compile_bytecode(root, &state.final_root, reporter)
            })?;
            // The bytecode compileall just wrote is not in the inventory: --ship-bytecode walks the
            // venv once more to find it.
            reread.extend(
                crate::tree::walk(root)
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_file())
                    .map(|e| e.into_path())
                    .filter(|p| p.extension().is_some_and(|e| e == "pyc")),
            );
        }
        reporter.timed(name, "audit", || {
            audit::audit_venv(
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
                depends::library_dependencies(
                    root,
                    &state.final_root,
                    &elf_report,
                    &state.ignore_library,
                    crate::debhelper::CrossArchitecture::detect(&env.architecture)?.as_ref(),
                    reporter,
                )
            })
            .context("working out the shared-library dependencies")?;
        let shlibs_taken = state.flavour == Flavour::DhVirtualenv
            && !libraries.is_empty()
            && depends::elf_outside(&state.top.join(&package.tmpdir), root)?;
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
            inventory,
        }),
        Err(e) => {
            elf::remove_debug_files(&elf_report.debug_files);
            Err(e)
        }
    }
}

/// Adds what [`process`] worked out to the run's `outputs`: the lintian overrides the venv as shipped
/// needs, the substvars (taking back what an earlier run of the state wrote), the build-ids of the
/// debug files, the license summary ([`write_sbom`]), and the state with a snapshot of the venv.
/// Nothing outside the venv is written until the outputs are committed; the SBOM, inside the venv, is
/// written before the snapshot is taken, so that the late stage sees it as part of the venv
/// dh_rustvenv left (both programs run this in a staging transaction, which takes it back on
/// failure). Returns the overrides.
///
/// # Errors
/// When a file cannot be read; the message names it.
pub fn write_outputs(
    outputs: &mut Outputs,
    package: &Package,
    mut state: State,
    outcome: &Outcome,
    work_dir: &Path,
    reporter: &Reporter,
) -> Result<String> {
    let embedded =
        lintian::embedded::embedded_libraries(Path::new(lintian::embedded::EMBEDDED_LIBS))?;
    for key in &embedded.unreadable {
        reporter.warning(format!(
            "package {}: the entry {key} of {} has a pattern that cannot be run here; its \
             embedded-library tags are not overridden",
            package.name,
            lintian::embedded::EMBEDDED_LIBS
        ));
    }
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
        source_package: &package.source,
        entries: &outcome.inventory.entries,
    };
    let overrides = lintian::venv_overrides(
        &package.name,
        &state.final_root,
        &state.staging_root,
        &facts,
    );
    lintian::install_overrides(outputs, package, &overrides)?;
    let earlier: BTreeSet<&(String, String)> = state.substvars.iter().collect();
    let now: BTreeSet<&(String, String)> = outcome.substvars.iter().collect();
    for (substvar, item) in earlier.difference(&now) {
        debhelper::remove_substvar_items(outputs, package, substvar, std::slice::from_ref(item))?;
    }
    for (substvar, item) in now.difference(&earlier) {
        reporter.verbose_print(format!(
            "echo '{substvar}={item}' >> debian/{}.substvars",
            package.name
        ));
        debhelper::add_substvar(outputs, package, substvar, item)?;
    }
    if let Some(debug) = &outcome.debug_symbols {
        elf::record_build_ids(outputs, debug, &outcome.elf_report.build_ids)?;
    }
    state.substvars = outcome.substvars.clone();
    state.unstripped = outcome.unstripped.clone();
    if state.sbom {
        reporter.timed(&package.name, "sbom", || {
            write_sbom(outputs, package, &state, work_dir, reporter)
        })?;
    }
    let (state_file, snapshot_file) = state_files(work_dir);
    let snapshot = Snapshot::take(&state.staging_root)?;
    outputs.write(snapshot_file, snapshot.to_text());
    outputs.write(state_file, state.to_json());
    Ok(overrides)
}

/// The file name of the license summary in the package's work directory.
pub const COPYRIGHT_FRAGMENT: &str = "copyright-fragment";

/// Writes the SBOM of the venv of `state` into the venv ([`sbom::sbom_path`]: the file is replaced,
/// never written into) and adds the license summary ([`COPYRIGHT_FRAGMENT`], in `work_dir`) to
/// `outputs`; says where both are in one note. The SBOM lists the venv as it is now, after every
/// stage changed it, with the dependencies in `state.substvars`.
///
/// # Errors
/// When a distribution's metadata or RECORD cannot be read, or the SBOM cannot be written; the
/// message names the file and the distribution.
pub fn write_sbom(
    outputs: &mut Outputs,
    package: &Package,
    state: &State,
    work_dir: &Path,
    reporter: &Reporter,
) -> Result<()> {
    let root = &state.staging_root;
    let distributions = sbom::installed(root, state.wheelhouse.as_deref())
        .context("reading the installed distributions for the SBOM")?;
    let context = sbom::BomContext {
        package: &package.name,
        final_root: &state.final_root,
        python_version: sbom::venv_python_version(root)?,
        interpreter_package: state.interpreter_dependency.as_deref(),
        substvars: &state.substvars,
        source_date_epoch: state.source_date_epoch,
    };
    let path = sbom::sbom_path(root, &state.final_root);
    crate::tree::replace(&path, sbom::document(&distributions, &context).as_bytes())
        .with_context(|| format!("writing the SBOM {}", path.display()))?;
    let fragment = work_dir.join(COPYRIGHT_FRAGMENT);
    outputs.write(
        fragment.clone(),
        sbom::copyright_fragment(&distributions, &state.final_root),
    );
    let shown = fragment.strip_prefix(&state.top).unwrap_or(&fragment);
    reporter.note(format!(
        "package {}: SBOM of the venv at {}; license summary for debian/copyright in {}",
        package.name,
        state
            .final_root
            .join(sbom::sbom_file_name(&state.final_root))
            .display(),
        shown.display()
    ));
    Ok(())
}
