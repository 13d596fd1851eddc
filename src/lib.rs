//! dh_rustvenv: a debhelper program that builds a Python virtualenv into a Debian package.
//!
//! The pipeline runs once for every selected package, each stage taking what the one before returned:
//! [`options`] and [`debhelper`] say what to act on, [`Layout`] says where, [`interpreter`] finds the
//! Python, [`install`] builds the venv in the staging tree, [`relocate`] rewrites it for its final path,
//! [`elf`] strips its compiled code safely, [`audit`] proves that nothing names the build tree, and
//! [`depends`] writes `${rustvenv:Depends}`.
//! [`build_package`] is that pipeline for one package; run from the drop-in's dh-virtualenv build
//! system (`--buildsystem-destdir`), it takes that build system's variables and defaults
//! ([`buildsystem`]). Rules often add files to the venv afterwards (override targets, dh_install, the
//! staged interpreter run to generate files), so the pipeline
//! records what it left ([`finish::State`], an [`inventory::Snapshot`]) and [`finish::finish_package`],
//! the late stage `dh_rustvenv_finish`, takes whatever was added or changed since through the same
//! stages before dh_strip, dh_shlibdeps and dh_md5sums run.

// Leaves first, the programs last: a module uses only the modules above it (tests/layering.rs).
pub mod tree;
pub mod snapshot;
pub mod interrupt;
pub mod command;
pub mod pathmatch;
pub mod wheelhouse;
pub mod debhelper;
pub mod options;
pub mod layout;
pub mod buildsystem;
pub mod interpreter;
pub mod install;
pub mod inventory;
pub mod relocate;
pub mod elf;
pub mod depends;
pub mod lintian;
pub mod audit;
pub mod staging;
pub mod state;
pub mod pipeline;
pub mod dh_rustvenv;
pub mod dh_rustvenv_finish;
pub mod download;
