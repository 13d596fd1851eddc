//! RECORD files read and written: the one reader of the CSV rows every installed distribution lists.
//!
//! A `RECORD` (PEP 376, PEP 627; the binary distribution format specification) is CSV: one row per
//! file, `path,algorithm=urlsafe-base64-nopad-digest,size`, paths relative to the directory that
//! holds the `.dist-info`, quoted when they hold a comma or a quote. [`files`] and [`lists`] read the
//! rows; [`rewrite_record`] and [`update_records`] bring them up to date with the files as shipped.
//! Reading is strict: a row that is not `path,hash,size`, or a quote never closed, is an error that
//! names the RECORD ([`BrokenRecord`]), never a row guessed or dropped. Writes go through
//! [`crate::tree::replace`]; nothing else is written.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use sha2::Digest as _;

use crate::tree::normalize;
use crate::tree::replace as replace_file;

/// What the maintainer of a package whose RECORD cannot be read is told to do.
const BROKEN_WHEEL_HINT: &str = "the wheel it was installed from is broken: rebuild it, or report \
     it to the maintainers of the distribution it belongs to";

/// Why a RECORD's text is not PEP 376's CSV rows: the row at fault (1-based, as CSV counts rows:
/// empty lines are no rows) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row}: {problem}")]
pub struct MalformedRecord {
    /// The row at fault, counted from 1.
    pub row: u64,
    /// What is wrong with it, as a phrase ("a quote that is never closed").
    pub problem: String,
}

/// A RECORD file whose text is not PEP 376's CSV rows ([`MalformedRecord`]): the message names the
/// file, the row and what is wrong, and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {malformed}; {BROKEN_WHEEL_HINT}", record.display())]
pub struct BrokenRecord {
    /// The RECORD file.
    pub record: PathBuf,
    /// What is wrong with it.
    pub malformed: MalformedRecord,
}

/// The rows of a RECORD's `text`, read strictly: every row is `path,hash,size` (three fields, a
/// path that is not empty, a hash that is empty or `algorithm=digest`, a size that is empty or a
/// decimal number), and every quoted field is closed. A CSV reader would otherwise take the rest of
/// the text into a field whose quote is never closed, and the rows it swallowed would be lost when
/// RECORD is written again.
///
/// # References
/// PEP 376 and the recording-installed-packages specification (RECORD's rows); RFC 4180 (quoting).
fn rows(text: &[u8]) -> std::result::Result<Vec<csv::ByteRecord>, MalformedRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let rows = reader
        .byte_records()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| MalformedRecord {
            row: e.position().map_or(0, |p| p.record() + 1),
            problem: e.to_string(),
        })?;
    // The csv crate's line numbers miss a CRLF line ending before a record: rows are counted.
    let number = |row: &csv::ByteRecord| row.position().map_or(0, |p| p.record() + 1);
    if ends_inside_quotes(text) {
        // The quote opens in the last row, which the reader ended at the end of the text.
        return Err(MalformedRecord {
            row: rows.last().map_or(1, number),
            problem: "a quote that is never closed".to_owned(),
        });
    }
    for row in &rows {
        let malformed = |problem: String| MalformedRecord {
            row: number(row),
            problem,
        };
        if row.len() != 3 {
            return Err(malformed(format!(
                "a row of {} field{}, not the three of path,hash,size",
                row.len(),
                if row.len() == 1 { "" } else { "s" }
            )));
        }
        if row[0].is_empty() {
            return Err(malformed("a row with no path".to_owned()));
        }
        if !row[1].is_empty() && !row[1][1..].contains(&b'=') {
            return Err(malformed(format!(
                "the hash {:?} is not algorithm=digest",
                String::from_utf8_lossy(&row[1])
            )));
        }
        if !row[2].iter().all(u8::is_ascii_digit) {
            return Err(malformed(format!(
                "the size {:?} is not a number",
                String::from_utf8_lossy(&row[2])
            )));
        }
    }
    Ok(rows)
}

/// Whether CSV `text` ends inside a quoted field, as the csv crate reads it: a field is quoted when
/// it starts with `"`, a doubled quote inside it is a quote, and a quote elsewhere in an unquoted
/// field is an ordinary character. The csv crate ends such a field at the end of the text without
/// an error.
fn ends_inside_quotes(text: &[u8]) -> bool {
    let mut quoted = false;
    let mut field_start = true;
    let mut bytes = text.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if quoted {
            if byte == b'"' {
                if bytes.peek() == Some(&&b'"') {
                    bytes.next();
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        match byte {
            b'"' if field_start => {
                quoted = true;
                field_start = false;
            }
            b',' | b'\n' | b'\r' => field_start = true,
            _ => field_start = false,
        }
    }
    quoted
}

/// The text of the RECORD file `record`, checked as [`rows`] reads it, with its rows.
///
/// # Errors
/// When the file cannot be read, or is not RECORD's rows ([`BrokenRecord`], which names it and says
/// what to do).
fn read_record(record: &Path) -> Result<(Vec<u8>, Vec<csv::ByteRecord>)> {
    let text = fs::read(record).with_context(|| format!("reading {}", record.display()))?;
    let rows = rows(&text).map_err(|malformed| BrokenRecord {
        record: record.to_path_buf(),
        malformed,
    })?;
    Ok((text, rows))
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
/// [`MalformedRecord`] when a row is not `path,hash,size` or a quote is never closed: nothing is
/// guessed from a RECORD that is not what PEP 376 says.
pub fn files(text: &[u8], base: &Path) -> std::result::Result<Vec<PathBuf>, MalformedRecord> {
    Ok(rows(text)?
        .iter()
        .map(|row| file_of(base, &row[0]))
        .collect())
}

/// Whether the RECORD at `record` lists `path` (absolute, without `.` or `..`), its rows read
/// relative to `base` (the parent of the `.dist-info`), as [`files`] reads them.
///
/// # Errors
/// When `record` cannot be read, or is not RECORD's rows ([`BrokenRecord`]); the message names it.
pub fn lists(record: &Path, base: &Path, path: &Path) -> Result<bool> {
    let (_, rows) = read_record(record)?;
    Ok(rows.iter().any(|row| file_of(base, &row[0]) == path))
}

/// Brings the `RECORD` of every installed distribution among `files` (the venv's regular files; a
/// RECORD counts when [`is_installed_record`]) up to date with the files as shipped: rows of files that no longer exist are dropped,
/// and rows of the `changed` files (rewritten by relocation, stripped by the ELF stage) get their new
/// hash and size. A RECORD deeper down belongs to a copy vendored inside a package (setuptools'
/// `_vendor/wheel-*.dist-info`): it is that package's data and stays as installed. Returns the RECORD
/// files that changed.
///
/// # Errors
/// When a RECORD cannot be read or written, or is not RECORD's rows ([`BrokenRecord`]: a row that is
/// not `path,hash,size`, a quote never closed); the message names it, and it is left as it is.
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
/// When the file cannot be read or written, is not RECORD's rows ([`BrokenRecord`]), or is not inside
/// a `.dist-info` directory.
///
/// # References
/// PEP 376 and PEP 627 (RECORD's CSV rows: path, `algorithm=urlsafe-base64-nopad-digest`, size); the
/// binary distribution format specification (hash rows may be empty for RECORD itself and bytecode).
fn update_record(record: &Path, changed: &BTreeSet<&Path>) -> Result<bool> {
    let (text, rows) = read_record(record)?;
    let base = record
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("{} is not inside a dist-info directory", record.display()))?;
    let Some(new) = rewrite_rows(&text, rows, base, changed)
        .with_context(|| format!("updating {}", record.display()))?
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
/// [`MalformedRecord`] when a row of `text` is not `path,hash,size` or a quote is never closed (no
/// row is ever dropped for being unreadable); when a changed file cannot be read, or the CSV writer
/// reports an error.
pub fn rewrite_record(
    text: &[u8],
    base: &Path,
    changed: &BTreeSet<&Path>,
) -> Result<Option<Vec<u8>>> {
    rewrite_rows(text, rows(text)?, base, changed)
}

/// RECORD's `text` with the path of each row replaced by `map` of it (hashes and sizes kept, rows in
/// order, CRLF kept), or the row dropped where `map` gives None: for files moved to another place
/// relative to the `.dist-info`'s parent, or not installed.
///
/// # Errors
/// [`MalformedRecord`] as [`files`] reads `text`, or when the CSV writer reports an error.
pub fn map_paths(text: &[u8], map: &dyn Fn(&str) -> Option<String>) -> Result<Vec<u8>> {
    let crlf = text.windows(2).any(|w| w == b"\r\n");
    let mut writer = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    for row in rows(text)? {
        if let Some(path) = map(&String::from_utf8_lossy(&row[0])) {
            writer.write_record([path.as_bytes(), &row[1], &row[2]])?;
        }
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// [`rewrite_record`] over `text`'s `rows`, already read.
fn rewrite_rows(
    text: &[u8],
    rows: Vec<csv::ByteRecord>,
    base: &Path,
    changed: &BTreeSet<&Path>,
) -> Result<Option<Vec<u8>>> {
    let crlf = text.windows(2).any(|w| w == b"\r\n");
    let mut writer = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let mut modified = false;
    for row in rows {
        let name = &row[0];
        let file = file_of(base, name);
        if fs::symlink_metadata(&file).is_err() {
            modified = true;
            continue;
        }
        let has_hash = !row[1].is_empty();
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
        // Rows of other lengths are errors, never rows kept or dropped as they come.
        let changed = BTreeSet::new();
        let uneven = b"demo/gone.py,a,b,c\n../../../bin/demo,sha256=y,4\n";
        let error = rewrite_record(uneven, &site, &changed).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 1: a row of 4 fields, not the three of path,hash,size"
        );
        assert!(files(b"x,sha256=y\n", &site).is_err());
        assert!(files(b",sha256=y,1\n", &site).is_err());
        assert!(files(b"x,sha256,1\n", &site).is_err());
        assert!(files(b"x,sha256=y,one\n", &site).is_err());
        assert_eq!(files(b"x,,\n\ny,sha256=z,10\n", &site).unwrap().len(), 2);
        // A quote left open would take the rest of the text into its field.
        assert_eq!(
            files(b"\"open,x\nnext,y\n", &site).unwrap_err().to_string(),
            "row 1: a quote that is never closed"
        );
    }

    #[test]
    fn a_quote_never_closed_is_an_error_naming_the_record_which_stays_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        let dist_info = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        fs::write(site.join("demo.py"), "x = 1\n").unwrap();
        fs::write(site.join("other.py"), "y = 2\n").unwrap();
        let record = dist_info.join("RECORD");
        // Row 2's quote is never closed: read as CSV, it takes rows 3 and 4 into its path, and
        // RECORD once came out of the update with row 1 only.
        let text = "demo.py,sha256=a,6\n\"demo/gone.py,sha256=b,1\n\
                    other.py,sha256=c,6\ndemo-1.0.dist-info/RECORD,,\n";
        fs::write(&record, text).unwrap();
        let changed: BTreeSet<&Path> = BTreeSet::new();
        let error = update_records([record.as_path()], &changed).unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&format!(
                "{}: row 2: a quote that is never closed; the wheel it was installed from is broken: \
                 rebuild it, or report it",
                record.display()
            )),
            "{message}"
        );
        assert_eq!(fs::read_to_string(&record).unwrap(), text);
        assert!(lists(&record, &site, &site.join("demo.py")).is_err());
        let names: Vec<_> = fs::read_dir(&dist_info).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }
}
