//! RECORD files read and written: the one reader of the CSV rows every installed distribution lists.
//!
//! A `RECORD` (PEP 376, PEP 627; the binary distribution format specification) is CSV: one row per
//! file, `path,algorithm=urlsafe-base64-nopad-digest,size`, paths relative to the directory that
//! holds the `.dist-info`, quoted when they hold a comma or a quote. [`files`] and [`lists`] read the
//! rows; [`rewrite_record`] and [`update_records`] bring them up to date with the files as shipped.
//! Writes go through [`crate::tree::replace`]; nothing else is written.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use sha2::Digest as _;

use crate::tree::normalize;
use crate::tree::replace as replace_file;

/// A CSV reader of RECORD's rows: no header, rows of any length (a row may lack its hash and size).
fn reader(text: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text)
}

/// The file a row's `name` (its first field) stands for: `base` joined with it, `.` and `..`
/// resolved lexically ([`normalize`]).
fn file_of(base: &Path, name: &[u8]) -> PathBuf {
    normalize(&base.join(&*String::from_utf8_lossy(name)))
}

/// The files a RECORD's `text` lists, in its order, each joined to `base` (the directory its paths
/// are relative to: the parent of the `.dist-info`) with `.` and `..` resolved lexically. Quoted
/// fields are read as CSV reads them, so a path holding a comma is one path.
///
/// # Errors
/// When the CSV reader reports one; with rows of any length allowed, that is only an I/O error,
/// which bytes in memory do not have. (A quote left open is no error: it takes the rest of the
/// text into its field.)
pub fn files(text: &[u8], base: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for row in reader(text).byte_records() {
        let row = row?;
        if let Some(name) = row.get(0) {
            out.push(file_of(base, name));
        }
    }
    Ok(out)
}

/// Whether the RECORD at `record` lists `path` (absolute, without `.` or `..`), its rows read
/// relative to `base` (the parent of the `.dist-info`), as [`files`] reads them.
///
/// # Errors
/// When `record` cannot be read; the message names it.
pub fn lists(record: &Path, base: &Path, path: &Path) -> Result<bool> {
    let text = fs::read(record).with_context(|| format!("reading {}", record.display()))?;
    let files =
        files(&text, base).with_context(|| format!("reading {} as CSV", record.display()))?;
    Ok(files.iter().any(|f| f == path))
}

/// Brings the `RECORD` of every installed distribution among `files` (the venv's regular files; a
/// RECORD counts when [`is_installed_record`]) up to date with the files as shipped: rows of files that no longer exist are dropped,
/// and rows of the `changed` files (rewritten by relocation, stripped by the ELF stage) get their new
/// hash and size. A RECORD deeper down belongs to a copy vendored inside a package (setuptools'
/// `_vendor/wheel-*.dist-info`): it is that package's data and stays as installed. Returns the RECORD
/// files that changed.
///
/// # Errors
/// When a RECORD cannot be read, parsed as CSV or written; the message names it.
///
/// # References
/// PEP 376 and PEP 627; the binary distribution format specification.
pub fn update_records<'a>(
    files: impl IntoIterator<Item = &'a Path>,
    changed: &BTreeSet<&Path>,
) -> Result<Vec<PathBuf>> {
    let mut updated = Vec::new();
    for path in files.into_iter().filter(|p| is_installed_record(p)) {
        if update_record(path, changed)? {
            updated.push(path.to_path_buf());
        }
    }
    Ok(updated)
}

/// Whether `path` is the `RECORD` of an installed distribution: `<name>.dist-info/RECORD` directly in
/// a `site-packages` directory (PEP 376's layout).
pub fn is_installed_record(path: &Path) -> bool {
    let dist_info = path.parent();
    path.file_name().is_some_and(|n| n == "RECORD")
        && dist_info
            .and_then(Path::file_name)
            .is_some_and(|d| d.as_encoded_bytes().ends_with(b".dist-info"))
        && dist_info
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .is_some_and(|d| d == "site-packages")
}

/// Brings a `RECORD` up to date: rows of files that no longer exist are dropped, rows of rewritten
/// files get their new `sha256=` hash and size; the order of rows and the line ending are kept.
/// Returns whether the file changed.
///
/// # Errors
/// When the file cannot be read, parsed or written, or is not inside a `.dist-info` directory.
///
/// # References
/// PEP 376 and PEP 627 (RECORD's CSV rows: path, `algorithm=urlsafe-base64-nopad-digest`, size); the
/// binary distribution format specification (hash rows may be empty for RECORD itself and bytecode).
fn update_record(record: &Path, changed: &BTreeSet<&Path>) -> Result<bool> {
    let text = fs::read(record).with_context(|| format!("reading {}", record.display()))?;
    let base = record
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("{} is not inside a dist-info directory", record.display()))?;
    let Some(new) = rewrite_record(&text, base, changed)
        .with_context(|| format!("reading {} as CSV", record.display()))?
    else {
        return Ok(false);
    };
    replace_file(record, &new)?;
    Ok(true)
}

/// One RECORD brought up to date as [`update_records`] does, over bytes: rows of files that no
/// longer exist are dropped, rows with a hash of the `changed` files get their new `sha256=` hash
/// and size, other rows are kept as they are, in order. `base` is the directory RECORD's paths are
/// relative to. Returns the new text, or None when nothing changed. The line ending is CRLF when
/// `text` has one, else LF.
///
/// # Errors
/// When a changed file cannot be read, or the CSV reader or writer reports an error.
pub fn rewrite_record(
    text: &[u8],
    base: &Path,
    changed: &BTreeSet<&Path>,
) -> Result<Option<Vec<u8>>> {
    let crlf = text.windows(2).any(|w| w == b"\r\n");
    // Flexible: a row with more or fewer fields than the one before is written as it was read.
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let mut modified = false;
    for row in reader(text).byte_records() {
        let row = row?;
        let Some(name) = row.get(0) else { continue };
        let file = file_of(base, name);
        if fs::symlink_metadata(&file).is_err() {
            modified = true;
            continue;
        }
        let has_hash = row.get(1).is_some_and(|h| !h.is_empty());
        if has_hash && changed.contains(file.as_path()) {
            let content = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let digest = sha2::Sha256::digest(&content);
            let hash = format!(
                "sha256={}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
            );
            writer.write_record([name, hash.as_bytes(), content.len().to_string().as_bytes()])?;
            modified = true;
        } else {
            writer.write_byte_record(&row)?;
        }
    }
    if !modified {
        return Ok(None);
    }
    Ok(Some(writer.into_inner().map_err(|e| e.into_error())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_rows_follow_the_files_as_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let dist_info = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(
            dir.path().join("bin/demo"),
            "#!/opt/venvs/demo/bin/python\n",
        )
        .unwrap();
        fs::write(site.join("demo.py"), "x = 1\n").unwrap();
        let record = "../../../bin/demo,sha256=stale,40\r\ndemo.py,sha256=keep,6\r\n\
                      __pycache__/demo.cpython-311.pyc,,\r\ndemo-1.0.dist-info/RECORD,,\r\n";
        fs::write(dist_info.join("RECORD"), record).unwrap();
        let script = dir.path().join("bin/demo");
        let changed: BTreeSet<&Path> = [script.as_path()].into_iter().collect();
        assert!(update_record(&dist_info.join("RECORD"), &changed).unwrap());
        let digest = sha2::Sha256::digest(b"#!/opt/venvs/demo/bin/python\n");
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        assert_eq!(
            fs::read_to_string(dist_info.join("RECORD")).unwrap(),
            format!(
                "../../../bin/demo,sha256={hash},29\r\ndemo.py,sha256=keep,6\r\ndemo-1.0.dist-info/RECORD,,\r\n"
            )
        );
    }

    #[test]
    fn a_record_vendored_inside_a_package_is_left_as_installed() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let vendored = site.join("setuptools/_vendor/wheel-0.46.3.dist-info");
        let installed = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&vendored).unwrap();
        fs::create_dir_all(&installed).unwrap();
        let rows = "../../../../bin/wheel,sha256=x,10\n";
        fs::write(vendored.join("RECORD"), rows).unwrap();
        fs::write(installed.join("RECORD"), "../../../bin/gone,sha256=x,10\n").unwrap();
        let records = [vendored.join("RECORD"), installed.join("RECORD")];
        let updated =
            update_records(records.iter().map(PathBuf::as_path), &BTreeSet::new()).unwrap();
        assert_eq!(updated, [installed.join("RECORD")]);
        assert_eq!(fs::read_to_string(vendored.join("RECORD")).unwrap(), rows);
    }

    #[test]
    fn a_quoted_path_holding_a_comma_is_one_path() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let dist_info = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        let record = dist_info.join("RECORD");
        fs::write(
            &record,
            "\"demo/a,b.txt\",sha256=x,3\n../../../bin/demo,sha256=y,4\ndemo/./c.py,,\n",
        )
        .unwrap();
        assert_eq!(
            files(&fs::read(&record).unwrap(), &site).unwrap(),
            [
                site.join("demo/a,b.txt"),
                dir.path().join("bin/demo"),
                site.join("demo/c.py")
            ]
        );
        assert!(lists(&record, &site, &site.join("demo/a,b.txt")).unwrap());
        assert!(lists(&record, &site, &dir.path().join("bin/demo")).unwrap());
        // What a split at every comma would have read.
        assert!(!lists(&record, &site, &site.join("\"demo/a")).unwrap());
        assert!(!lists(&record, &site, &site.join("demo/b.txt")).unwrap());
        assert!(lists(&dist_info.join("missing"), &site, &site).is_err());
        // Rows of different lengths are kept as they are.
        let changed = BTreeSet::new();
        let uneven = b"demo/gone.py,a,b,c\n../../../bin/demo,sha256=y,4\n";
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(dir.path().join("bin/demo"), "").unwrap();
        fs::write(site.join("x"), "").unwrap();
        let kept = b"x,a,b,c\n../../../bin/demo,sha256=y,4\ndemo/gone.py,,\n";
        assert_eq!(
            rewrite_record(kept, &site, &changed).unwrap().as_deref(),
            Some(&b"x,a,b,c\n../../../bin/demo,sha256=y,4\n"[..])
        );
        assert_eq!(
            rewrite_record(uneven, &site, &changed).unwrap().as_deref(),
            Some(&b"../../../bin/demo,sha256=y,4\n"[..])
        );
        // A quote left open takes the rest of the text into its field, as CSV reads it.
        assert_eq!(files(b"\"open,x\nnext,y\n", &site).unwrap().len(), 1);
    }
}
