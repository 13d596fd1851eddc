//! What the venv holds, as shipped: a CycloneDX 1.6 SBOM of it, and a license summary in DEP-5 form.
//!
//! Takes the venv in the staging root after every other stage changed it (so that the hashes are those
//! of the files shipped), the final root, and the dependencies the run put into the substvars.
//! [`installed`](fn@installed) reads each `*.dist-info` directly in `lib/python3.X/site-packages`
//! (METADATA, WHEEL, RECORD); [`document`](fn@document) turns them into the SBOM's JSON and
//! [`copyright_fragment`] into DEP-5 stanzas. Nothing here writes a file or names the staging root in
//! what it returns: every path in the output is a path of the installed system (under the final
//! root). The pipeline writes the SBOM into the venv at [`sbom_path`] and the fragment into the
//! package's work directory.
//!
//! Both are reproducible: the same venv gives the same bytes from any build directory. Components,
//! dependencies and object keys are sorted, the timestamp comes only from `SOURCE_DATE_EPOCH`, and the
//! serial number is derived from the rest of the document ([`serial_number`]).
//!
//! One job per file, each using only the ones before it: `metadata` (METADATA's fields, PEP 503
//! names, purls, the license), `installed` (the
//! distributions in the venv, their native libraries, the wheelhouse file each came from, the
//! dependencies among them, their markers evaluated by `crate::markers`), `document` (the CycloneDX JSON) and `copyright` (the DEP-5 fragment).
//!
//! # References
//! - CycloneDX 1.6 JSON: <https://cyclonedx.org/docs/1.6/json/>
//! - Core metadata, PEP 639 (`License-Expression`, `License-File`), PEP 621, PEP 508 (markers):
//!   <https://packaging.python.org/en/latest/specifications/core-metadata/>
//! - PEP 503 (name normalization); the purl specification's `pypi` and `deb` types:
//!   <https://github.com/package-url/purl-spec>
//! - DEP-5 (machine-readable debian/copyright): <https://dep-team.pages.debian.net/deps/dep5/>

mod metadata;

mod installed;
mod document;
mod copyright;

pub use crate::markers::MarkerEnvironment;
pub use copyright::copyright_fragment;
pub use document::{BomContext, document, rfc3339, sbom_file_name, sbom_path, serial_number};
pub use installed::{
    Distribution, NativeLibrary, dependencies, find_artifact, installed, venv_python_version,
};
pub use metadata::{
    License, LicenseSource, Metadata, deb_purl, license_of, normalize_name, parse_metadata,
    pypi_purl,
};
