//! Maintainer-script snippets: debhelper's `autoscript`, which adds a snippet between its markers
//! to `debian/<package>.<script>.debhelper`.

use anyhow::Result;

use super::{Package, TOOL};
use crate::outputs::Outputs;

/// Wraps a maintainer-script snippet in debhelper's markers and adds it to
/// `debian/<package>.<script>.debhelper`, among the run's `outputs`: prepended for `prerm` and `postrm` (so removal undoes the
/// installation in reverse order), appended for the other scripts. A snippet already present is not
/// added twice, so running the tool again does not duplicate it.
///
/// # Errors
/// When the file cannot be read; the message names the file.
///
/// # References
/// debhelper 13.11 `Dh_Lib.pm`, `autoscript`; debhelper(7), "Automatic generation of Debian maintainer
/// scripts".
pub fn autoscript(
    outputs: &mut Outputs,
    package: &Package,
    script: &str,
    snippet: &str,
) -> Result<()> {
    let path = package.debian_file(&format!("{script}.debhelper"));
    let existing = outputs.read(&path)?;
    let block = autoscript_block(snippet);
    if existing.contains(&block) {
        return Ok(());
    }
    let text = if script == "prerm" || script == "postrm" {
        block + &existing
    } else {
        existing + &block
    };
    outputs.write(path, text);
    Ok(())
}

/// A snippet between debhelper's "Automatically added by" and "End automatically added section" lines.
pub fn autoscript_block(snippet: &str) -> String {
    let mut block = format!(
        "# Automatically added by {TOOL}/{}\n",
        env!("CARGO_PKG_VERSION")
    );
    block.push_str(snippet.trim_end_matches('\n'));
    block.push_str("\n# End automatically added section\n");
    block
}
