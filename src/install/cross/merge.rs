//! Moving a `pip install --target` install of a cross build into the venv, where a native install
//! puts it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::interpreter::Interpreter;

/// Moves what `pip install --target <scratch>` installed into the venv at `staging_root`, where a
/// native install puts it, and rewrites each RECORD's rows for the new places.
///
/// pip installs a `--target` install with the home scheme of a scratch directory and then moves its
/// `lib/python` and data directories into the target: RECORD's rows are relative to `lib/python`,
/// so a row `../../bin/tool` (a console script) or `../../share/x` (data) names a file now at
/// `<scratch>/bin/tool` or `<scratch>/share/x`. In the venv they go to `<venv>/bin/tool` and
/// `<venv>/share/x`, with the rows `../../../bin/tool` and `../../../share/x` (site-packages is
/// three levels below the venv); every other row names a file of site-packages. A distribution
/// whose `.dist-info` the venv already has is left out; one of which the venv has another version
/// replaces it (an upgrade: the old one's files are removed, as pip removes them). The distributions
/// named in `unrequested` (dependencies: `pip install --no-deps` was given them all by name) lose
/// their `REQUESTED` file and its row, which a native install does not write for them.
///
/// # Errors
/// When a RECORD cannot be read, or a file would replace one of another distribution already in the
/// venv (the message names both), or a file cannot be moved.
///
/// # References
/// pip's `--target` (the home scheme `<home>/lib/python`, `<home>/bin`); PEP 376, PEP 627 (RECORD).
pub(super) fn merge_into_venv(
    scratch: &Path,
    staging_root: &Path,
    interpreter: &Interpreter,
    unrequested: &[String],
) -> Result<()> {
    let unrequested: Vec<String> = unrequested
        .iter()
        .map(|n| project_name(&n.replace('-', "_")))
        .collect();
    let site = staging_root.join(format!(
        "lib/python{}/site-packages",
        interpreter.major_minor()
    ));
    let mut dist_infos: Vec<PathBuf> = fs::read_dir(scratch)
        .with_context(|| format!("reading {}", scratch.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
        .collect();
    dist_infos.sort();
    for dist_info in dist_infos {
        let name = dist_info.file_name().unwrap_or_default().to_owned();
        if site.join(&name).exists() {
            continue;
        }
        // Another version of it (an upgrade): removed first, as pip removes it.
        let project = project_name(&name.to_string_lossy());
        let installed: Vec<PathBuf> = fs::read_dir(&site)
            .with_context(|| format!("reading {}", site.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
            .filter(|p| {
                project_name(&p.file_name().unwrap_or_default().to_string_lossy()) == project
            })
            .collect();
        for old in installed {
            remove_distribution(&old, &site)?;
        }
        let record_path = dist_info.join("RECORD");
        let text =
            fs::read(&record_path).with_context(|| format!("reading {}", record_path.display()))?;
        let destination = |row: &str| -> (String, PathBuf) {
            match row.strip_prefix("../../") {
                Some(rest) => (format!("../../../{rest}"), staging_root.join(rest)),
                None => (row.to_owned(), site.join(row)),
            }
        };
        // `REQUESTED` of a distribution only pulled in as a dependency.
        let unwanted = unrequested
            .contains(&project)
            .then(|| format!("{}/REQUESTED", name.to_string_lossy()));
        let rows = crate::record::map_paths(&text, &|row| {
            (Some(row) != unwanted.as_deref()).then(|| destination(row).0)
        })?;
        let row_names: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .filter_map(csv_first_field)
            .collect();
        for row in &row_names {
            let source = match row.strip_prefix("../../") {
                Some(rest) => scratch.join(rest),
                None => scratch.join(row),
            };
            let (_, target) = destination(row);
            if fs::symlink_metadata(&source).is_err() || Some(row.as_str()) == unwanted.as_deref() {
                continue;
            }
            if fs::symlink_metadata(&target).is_ok() {
                bail!(
                    "{} of {} would replace {}, which is in the venv already",
                    row,
                    name.to_string_lossy(),
                    target.display()
                );
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            fs::rename(&source, &target)
                .with_context(|| format!("moving {} to {}", source.display(), target.display()))?;
        }
        let record = site.join(&name).join("RECORD");
        crate::tree::replace(&record, &rows)
            .with_context(|| format!("writing {}", record.display()))?;
    }
    fs::remove_dir_all(scratch).with_context(|| format!("removing {}", scratch.display()))
}

/// The normalized project name of a `.dist-info` directory name (`Flask-3.1.3.dist-info` is
/// `flask`; PEP 503's normalization).
pub(super) fn project_name(dist_info: &str) -> String {
    crate::markers::normalize_name(dist_info.split('-').next().unwrap_or(dist_info))
}

/// Removes the installed distribution of the `.dist-info` directory `dist_info` in `site`: every
/// file its RECORD lists, then the directories left empty, as `pip uninstall` does.
fn remove_distribution(dist_info: &Path, site: &Path) -> Result<()> {
    let record = dist_info.join("RECORD");
    let text = fs::read(&record).with_context(|| format!("reading {}", record.display()))?;
    let files = crate::record::files(&text, site)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", record.display()))?;
    for file in &files {
        if fs::symlink_metadata(file).is_ok() {
            fs::remove_file(file).with_context(|| format!("removing {}", file.display()))?;
        }
        for dir in file.ancestors().skip(1) {
            if dir == site || !dir.starts_with(site) || fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    if dist_info.exists() {
        fs::remove_dir_all(dist_info)
            .with_context(|| format!("removing {}", dist_info.display()))?;
    }
    Ok(())
}

/// The first field of a RECORD line (CSV: quoted when it holds a comma or a quote).
fn csv_first_field(line: &str) -> Option<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let row = reader.records().next()?.ok()?;
    row.get(0).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::cross::report::installed_distributions;

    #[test]
    fn a_target_install_is_moved_into_the_venv_with_its_record_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("scratch");
        let venv = dir.path().join("venv");
        let site = venv.join("lib/python3.11/site-packages");
        fs::create_dir_all(&site).unwrap();
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::create_dir_all(scratch.join("demo-1.0.dist-info")).unwrap();
        fs::create_dir_all(scratch.join("demo")).unwrap();
        fs::create_dir_all(scratch.join("bin")).unwrap();
        fs::create_dir_all(scratch.join("share/demo")).unwrap();
        fs::write(scratch.join("demo/__init__.py"), "").unwrap();
        fs::write(scratch.join("bin/demo"), "#!/venv/bin/python\n").unwrap();
        fs::write(scratch.join("share/demo/x.txt"), "x").unwrap();
        fs::write(
            scratch.join("demo-1.0.dist-info/RECORD"),
            "../../bin/demo,sha256=a,19\n../../share/demo/x.txt,sha256=b,1\n\
             demo-1.0.dist-info/RECORD,,\ndemo/__init__.py,sha256=c,0\n",
        )
        .unwrap();
        // A dependency installed again: the venv has it, so it is left out.
        fs::create_dir_all(scratch.join("dep-2.0.dist-info")).unwrap();
        fs::write(
            scratch.join("dep-2.0.dist-info/RECORD"),
            "dep.py,,\ndep-2.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        fs::write(scratch.join("dep.py"), "").unwrap();
        fs::create_dir_all(site.join("dep-2.0.dist-info")).unwrap();
        fs::write(site.join("dep.py"), "kept").unwrap();
        let interpreter = crate::install::fixtures::interpreter();
        merge_into_venv(&scratch, &venv, &interpreter, &[]).unwrap();
        assert!(!scratch.exists());
        assert_eq!(
            fs::read_to_string(venv.join("bin/demo")).unwrap(),
            "#!/venv/bin/python\n"
        );
        assert!(venv.join("share/demo/x.txt").is_file());
        assert!(site.join("demo/__init__.py").is_file());
        assert_eq!(fs::read_to_string(site.join("dep.py")).unwrap(), "kept");
        assert_eq!(
            fs::read_to_string(site.join("demo-1.0.dist-info/RECORD")).unwrap(),
            "../../../bin/demo,sha256=a,19\n../../../share/demo/x.txt,sha256=b,1\n\
             demo-1.0.dist-info/RECORD,,\ndemo/__init__.py,sha256=c,0\n"
        );
        assert_eq!(
            installed_distributions(&site).unwrap(),
            [
                ("demo".to_owned(), "1.0".to_owned()),
                ("dep".to_owned(), "2.0".to_owned())
            ]
        );

        // An upgrade: dep 3.0 replaces dep 2.0, whose files go.
        fs::write(
            site.join("dep-2.0.dist-info/RECORD"),
            "dep.py,,\ndep-2.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        fs::create_dir_all(scratch.join("dep-3.0.dist-info")).unwrap();
        fs::write(
            scratch.join("dep-3.0.dist-info/RECORD"),
            "dep3.py,,\ndep-3.0.dist-info/REQUESTED,,\ndep-3.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        fs::write(scratch.join("dep-3.0.dist-info/REQUESTED"), "").unwrap();
        fs::write(scratch.join("dep3.py"), "new").unwrap();
        // A dependency, not asked for: no REQUESTED, as a native install writes none.
        merge_into_venv(&scratch, &venv, &interpreter, &["Dep".into()]).unwrap();
        assert!(!site.join("dep.py").exists() && !site.join("dep-2.0.dist-info").exists());
        assert_eq!(fs::read_to_string(site.join("dep3.py")).unwrap(), "new");
        assert!(!site.join("dep-3.0.dist-info/REQUESTED").exists());
        assert_eq!(
            fs::read_to_string(site.join("dep-3.0.dist-info/RECORD")).unwrap(),
            "dep3.py,,\ndep-3.0.dist-info/RECORD,,\n"
        );
    }
}
