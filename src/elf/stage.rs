//! The ELF stage as the pipeline runs it: whether to strip at all ([`no_strip`]), then every ELF file
//! of the venv found and parsed, the selected ones stripped safely, and what was found and done
//! reported ([`strip_elf_files`]).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{DebugSymbols, ElfReport, SkipReason, scan, strip};
use crate::debhelper::{self, Environment, Package, Reporter};
use crate::inventory::Inventory;

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
    if !env.top.join("debian/rules").is_file() {
        return Ok(false);
    }
    let targets = debhelper::rules_targets(&env.top)?;
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

/// The ELF stage: parses the venv's ELF files (those the inventory classified so) and strips those `selected` accepts, unless `no_strip`,
/// sending debug information to the automatic -dbgsym package unless `noautodbgsym`; reports what it
/// found and did, and warns about files it could not read or had to leave alone. Returns the report
/// (every ELF file of the venv, for the dependencies; what this run stripped) and where debug
/// information went.
pub fn strip_elf_files(
    package: &Package,
    inventory: &Inventory,
    selected: &dyn Fn(&Path) -> bool,
    no_strip: bool,
    env: &Environment,
    reporter: &Reporter,
) -> Result<(ElfReport, Option<DebugSymbols>)> {
    let staging_root = inventory.root.as_path();
    let mut report = scan(inventory)?;
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
        (package.automatic_dbgsym && !env.build_option("noautodbgsym")).then(|| DebugSymbols {
            package_dir: debug_package_dir(package),
            package: package.name.clone(),
        });
    let mut to_strip = ElfReport {
        files: report
            .files
            .iter()
            .filter(|f| selected(&f.path))
            .cloned()
            .collect(),
        ..ElfReport::default()
    };
    let cross = debhelper::CrossArchitecture::detect(&env.architecture)?;
    if let Some(cross) = &cross {
        super::check_host_machine(&to_strip.files, cross, staging_root)?;
    }
    strip(
        &mut to_strip,
        no_strip,
        debug_symbols.as_ref(),
        cross.as_ref(),
        reporter,
    )?;
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
        if matches!(why, SkipReason::NoStrip) {
            reporter.verbose_print(format!("# elf: left {} alone: {why}", shown(path)));
        } else {
            reporter.warning(format!("package {}: {}: {why}", package.name, shown(path)));
        }
    }
    Ok((report, debug_symbols))
}

/// Where the files of `package`'s -dbgsym package are gathered, as dh_strip does it:
/// `debian/.debhelper/<package>`, with the debug files under `dbgsym-root`.
pub fn debug_package_dir(package: &Package) -> PathBuf {
    package.debian_dir.join(".debhelper").join(&package.name)
}
