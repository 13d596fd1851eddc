//! Stripping the venv's ELF files as dh_strip would, into a copy kept only when it still loads, with
//! debug information for the automatic -dbgsym package.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::parse::check_load_segments;
use super::{ElfFile, ElfKind, ElfReport, SkipReason};
use crate::command::Command;
use crate::debhelper::{CrossArchitecture, Reporter, host_tool};

/// Where debug information of stripped files goes, as dh_strip does it for automatic -dbgsym
/// packages: `debian/.debhelper/<package>/dbgsym-root`, with the build-ids listed in
/// `debian/.debhelper/<package>/dbgsym-build-ids` for dh_gencontrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugSymbols {
    /// `debian/.debhelper/<package>`.
    pub package_dir: PathBuf,
    /// The binary package, for the `usr/share/doc/<package>-dbgsym` link dh_strip makes.
    pub package: String,
}

/// Strips the venv's shared objects and executables, as dh_strip would (`strip --remove-section=.comment
/// --remove-section=.note`, plus `--strip-unneeded` for shared objects), into a copy that replaces the
/// file only when [`check_load_segments`] accepts it. The copy is a temporary file beside the file,
/// created exclusively with an unpredictable name ([`crate::tree::temporary_beside`]) before strip is
/// told to write it (`-o`), so nothing planted beside the file is written through; it gets the file's
/// permission bits and is renamed into place, so a hardlink into an installer's cache is never written
/// through either. Debug files are written the same way. With `debug_symbols`, debug information is first
/// extracted with `objcopy --only-keep-debug --compress-debug-sections` under the file's build-id and
/// linked back with `--add-gnu-debuglink`; [`record_build_ids`] registers them once the build succeeds.
///
/// # Errors
/// When strip or objcopy cannot be started, or a file cannot be written. A strip that fails or whose
/// result would not load is not an error: the file is kept and listed in `report.skipped`.
///
/// In a cross build (`cross`), the host's strip and objcopy run (`aarch64-linux-gnu-strip`), as
/// dh_strip runs them through `cross_command`.
///
/// # References
/// dh_strip(1) and debhelper 13.11's `dh_strip` (`make_debug`, `attach_debug`, `write_buildid_file`);
/// Debian Policy 10.1 (binaries are stripped unless `nostrip`).
pub fn strip(
    report: &mut ElfReport,
    no_strip: bool,
    debug_symbols: Option<&DebugSymbols>,
    cross: Option<&CrossArchitecture>,
    reporter: &Reporter,
) -> Result<()> {
    // Each file is stripped into a copy by its own strip run, both cores at once. Files with the same
    // build-id share one debug file, so they are taken in turn, in one group. The results are then
    // taken in the files' order, so that the report does not depend on which run ended first.
    use rayon::prelude::*;
    let mut groups: Vec<Vec<(usize, &ElfFile)>> = Vec::new();
    for (index, file) in report.files.iter().enumerate() {
        let same_build_id = file.build_id.as_ref().and_then(|id| {
            groups
                .iter_mut()
                .find(|g| g[0].1.build_id.as_ref() == Some(id))
        });
        match same_build_id {
            Some(group) => group.push((index, file)),
            None => groups.push(vec![(index, file)]),
        }
    }
    let strip_file = |file: &ElfFile| {
        let options: &[&str] = match file.kind {
            _ if no_strip => return None,
            ElfKind::Other => return None,
            ElfKind::SharedObject => &[
                "--remove-section=.comment",
                "--remove-section=.note",
                "--strip-unneeded",
            ],
            ElfKind::Executable => &["--remove-section=.comment", "--remove-section=.note"],
        };
        // strip writes its output (`-o`) by name: the name must be one nobody could create first.
        let (copy, outcome) = match new_temporary(&file.path) {
            Ok(copy) => {
                let outcome = strip_one(file, &copy, options, debug_symbols, cross, reporter);
                (copy, outcome)
            }
            Err(e) => (PathBuf::new(), Err(e)),
        };
        Some((file.clone(), copy, outcome))
    };
    let mut outcomes: Vec<(usize, StripResult)> = groups
        .par_iter()
        .flat_map_iter(|group| {
            group
                .iter()
                .filter_map(|(index, file)| strip_file(file).map(|outcome| (*index, outcome)))
                .collect::<Vec<_>>()
        })
        .collect();
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes = outcomes.into_iter().map(|(_, outcome)| outcome);
    for file in &report.files {
        if no_strip {
            report
                .skipped
                .push((file.path.clone(), SkipReason::NoStrip));
        } else if file.kind == ElfKind::Other {
            report
                .skipped
                .push((file.path.clone(), SkipReason::NotStrippable));
        }
    }
    let mut failure = None;
    for (file, copy, outcome) in outcomes {
        match outcome {
            Ok(StripOutcome::Stripped(debug)) if failure.is_none() => {
                fs::rename(&copy, &file.path).with_context(|| {
                    format!("renaming {} to {}", copy.display(), file.path.display())
                })?;
                report.stripped.push(file.path.clone());
                if let Some((build_id, written)) = debug {
                    report.build_ids.push(build_id);
                    report.debug_files.extend(written);
                }
            }
            Ok(StripOutcome::Stripped(debug)) => {
                let _ = fs::remove_file(&copy);
                if let Some((_, Some(written))) = debug {
                    remove_debug_files(std::slice::from_ref(&written));
                }
            }
            Ok(StripOutcome::Kept(reason)) => {
                let _ = fs::remove_file(&copy);
                report.skipped.push((file.path.clone(), reason));
            }
            Err(e) => {
                let _ = fs::remove_file(&copy);
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A new empty file beside `path`, created exclusively with an unpredictable name
/// ([`crate::tree::temporary_beside`]), for strip or objcopy to write into by name; the caller
/// renames it into place or removes it.
fn new_temporary(path: &Path) -> Result<PathBuf> {
    crate::tree::temporary_beside(path)?
        .into_temp_path()
        .keep()
        .with_context(|| format!("creating a temporary file beside {}", path.display()))
}

/// One strip run: the file, its stripped copy, and how it went.
type StripResult = (ElfFile, PathBuf, Result<StripOutcome>);

/// How one file's strip went.
enum StripOutcome {
    /// The copy is good; the build-id of its debug file, and the file when this run wrote it.
    Stripped(Option<(String, Option<PathBuf>)>),
    /// The file stays as installed, for this reason.
    Kept(SkipReason),
}

/// Strips `file` into `copy` (a temporary file of [`new_temporary`]) with `options`, checks that the
/// copy still loads, gives it the file's permission bits, and with `debug_symbols` extracts its debug
/// information (through a temporary file too) and links the copy to it.
fn strip_one(
    file: &ElfFile,
    copy: &Path,
    options: &[&str],
    debug_symbols: Option<&DebugSymbols>,
    cross: Option<&CrossArchitecture>,
    reporter: &Reporter,
) -> Result<StripOutcome> {
    let strip = Command::new(host_tool(cross, "strip"))
        .args(options)
        .arg("-o")
        .arg(copy)
        .arg(&file.path);
    if let Err(e) = reporter.doit(&strip) {
        if matches!(
            e.downcast_ref(),
            Some(crate::command::CommandError::NotStarted { .. })
        ) {
            return Err(e);
        }
        return Ok(StripOutcome::Kept(SkipReason::StripFailed(format!(
            "{e:#}"
        ))));
    }
    let verify = || -> Result<std::result::Result<(), String>> {
        let stripped = fs::read(copy).with_context(|| format!("reading {}", copy.display()))?;
        Ok(check_load_segments(&stripped))
    };
    if let Err(why) = verify()? {
        return Ok(StripOutcome::Kept(SkipReason::WouldBreakLoading(why)));
    }
    // strip gives its output the mode of a new file; the stripped file keeps the installed one's.
    let mode = fs::symlink_metadata(&file.path)
        .with_context(|| format!("reading {}", file.path.display()))?
        .permissions()
        .mode()
        & 0o7777;
    fs::set_permissions(copy, fs::Permissions::from_mode(mode))
        .with_context(|| format!("changing the mode of {}", copy.display()))?;
    let (Some(debug), Some(build_id), true) = (debug_symbols, &file.build_id, file.has_debug_info)
    else {
        return Ok(StripOutcome::Stripped(None));
    };
    let (prefix, rest) = build_id.split_at(2.min(build_id.len()));
    let debug_file = debug
        .package_dir
        .join("dbgsym-root/usr/lib/debug/.build-id")
        .join(prefix)
        .join(format!("{rest}.debug"));
    let debug_dir = debug_file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(debug_dir).with_context(|| format!("creating {}", debug_dir.display()))?;
    let created = !debug_file.exists();
    if created {
        // objcopy writes its output by name too: into a temporary renamed into place.
        let temporary = new_temporary(&debug_file)?;
        let extracted = reporter
            .doit(
                &Command::new(host_tool(cross, "objcopy"))
                    .args(["--only-keep-debug", "--compress-debug-sections"])
                    .arg(&file.path)
                    .arg(&temporary),
            )
            .and_then(|()| {
                // The mode dh_strip's debug files have (objcopy's output has a new file's).
                fs::set_permissions(&temporary, fs::Permissions::from_mode(0o644))
                    .with_context(|| format!("changing the mode of {}", temporary.display()))?;
                fs::rename(&temporary, &debug_file).with_context(|| {
                    format!(
                        "renaming {} to {}",
                        temporary.display(),
                        debug_file.display()
                    )
                })
            });
        if let Err(e) = extracted {
            let _ = fs::remove_file(&temporary);
            return Err(e);
        }
    }
    reporter.doit(
        &Command::new(host_tool(cross, "objcopy"))
            .arg("--add-gnu-debuglink")
            .arg(&debug_file)
            .arg(copy),
    )?;
    if let Err(why) = verify()? {
        if created {
            let _ = fs::remove_file(&debug_file);
        }
        return Ok(StripOutcome::Kept(SkipReason::WouldBreakLoading(why)));
    }
    Ok(StripOutcome::Stripped(Some((
        build_id.clone(),
        created.then_some(debug_file),
    ))))
}

/// Adds build-ids to `dbgsym-build-ids` (space-separated, sorted, each once; as dh_strip writes them) and makes
/// the `usr/share/doc/<package>-dbgsym` link dh_strip makes, among the run's `outputs`: they are
/// written only once the build of the venv has succeeded, so a failed build adds nothing to the
/// -dbgsym package.
///
/// # Errors
/// When the existing file cannot be read; the message names it.
pub fn record_build_ids(
    outputs: &mut crate::outputs::Outputs,
    debug: &DebugSymbols,
    build_ids: &[String],
) -> Result<()> {
    if build_ids.is_empty() {
        return Ok(());
    }
    let path = debug.package_dir.join("dbgsym-build-ids");
    // What is there already (an earlier run's, dh_strip's) is kept; an id is listed once.
    let earlier = outputs.read(&path)?;
    let mut ids: Vec<&str> = earlier.split_whitespace().collect();
    let new: Vec<&str> = build_ids
        .iter()
        .map(String::as_str)
        .filter(|id| !ids.contains(id))
        .collect();
    ids.extend(new);
    ids.sort_unstable();
    ids.dedup();
    outputs.write(path, ids.join(" ") + " ");
    let link = debug
        .package_dir
        .join("dbgsym-root/usr/share/doc")
        .join(format!("{}-dbgsym", debug.package));
    if fs::symlink_metadata(&link).is_err() {
        outputs.symlink(link, PathBuf::from(&debug.package));
    }
    Ok(())
}

/// Removes debug files written for the -dbgsym package, and their directories while they are empty
/// (the build-id directory, dbgsym-root, up to six levels); a file already gone is no error.
pub fn remove_debug_files(files: &[PathBuf]) {
    for file in files {
        let _ = fs::remove_file(file);
        for dir in file.ancestors().skip(1).take(6) {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_writes_through_no_symlink_planted_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        fs::create_dir(&venv).unwrap();
        let path = venv.join("tool");
        fs::copy("/bin/true", &path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "keep me\n").unwrap();
        // The name the stripped copy had before it was unpredictable.
        let planted = venv.join("tool.dh-rustvenv-strip");
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        let mut file = super::super::parse::parse(&fs::read(&path).unwrap(), true).unwrap();
        file.path = path.clone();
        let mut report = ElfReport {
            files: vec![file],
            ..ElfReport::default()
        };
        strip(
            &mut report,
            false,
            None,
            None,
            &crate::debhelper::Reporter::default(),
        )
        .unwrap();
        assert_eq!(
            report.stripped,
            std::slice::from_ref(&path),
            "{:?}",
            report.skipped
        );
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me\n");
        assert_eq!(fs::read_link(&planted).unwrap(), outside);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o750
        );
        let mut names: Vec<_> = fs::read_dir(&venv)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["tool", "tool.dh-rustvenv-strip"]);
    }

    #[test]
    fn a_build_id_is_listed_once_however_often_it_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let debug = DebugSymbols {
            package_dir: dir.path().to_path_buf(),
            package: "demo".into(),
        };
        let path = dir.path().join("dbgsym-build-ids");
        fs::write(&path, "ffff ").unwrap();
        for _ in 0..2 {
            let mut outputs = crate::outputs::Outputs::new();
            record_build_ids(&mut outputs, &debug, &["bb".into(), "aa".into()]).unwrap();
            outputs.stage().unwrap().commit().unwrap();
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "aa bb ffff ");
        assert_eq!(
            fs::read_link(dir.path().join("dbgsym-root/usr/share/doc/demo-dbgsym")).unwrap(),
            Path::new("demo")
        );
    }

    #[test]
    fn debug_files_go_with_their_empty_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dbgsym-root/usr/lib/debug/.build-id");
        fs::create_dir_all(root.join("ab")).unwrap();
        fs::create_dir_all(root.join("cd")).unwrap();
        let gone = root.join("ab/cdef.debug");
        let kept = root.join("cd/ef01.debug");
        fs::write(&gone, b"debug").unwrap();
        fs::write(&kept, b"debug").unwrap();
        remove_debug_files(&[gone.clone(), root.join("ab/missing.debug")]);
        assert!(!gone.exists());
        assert!(!root.join("ab").exists());
        assert!(kept.exists());
        assert!(dir.path().exists());
    }
}
