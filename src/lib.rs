//! dh_rustvenv: a debhelper program that builds a Python virtualenv into a Debian package.
//!
//! One binary, three programs: `dh_rustvenv` ([`dh_rustvenv`]), `dh_rustvenv_finish`
//! ([`dh_rustvenv_finish`]) and, from the dh-virtualenv drop-in, `dh_virtualenv`; `--download`
//! fills a wheelhouse instead ([`download`]). For each selected package the pipeline runs once, each
//! stage taking what the one before returned:
//!
//! ```text
//! Environment + Options + Package                      debhelper, options
//!   -> Layout (staging root, final root, work dir)     layout, buildsystem
//!   -> Interpreter (version, ABI, paths, platform)     interpreter, cross (the host's, cross-building)
//!   -> venv built in the staging root                  install, in a staging Transaction
//!   -> Inventory (one walk, every file classified)     inventory
//!   -> RelocationReport                                relocate, normalize, record, bytecode
//!   -> ElfReport                                       elf
//!   -> libraries -> substvars                          depends
//!   -> leaks: none, or the build fails                 audit
//!   -> the SBOM in the venv, the license summary       sbom
//!   -> substvars, snippets, overrides, state, snapshot lintian, state, snapshot, into Outputs
//!   -> Outputs committed, the Transaction with them     outputs, staging
//! dh_rustvenv_finish: snapshot diff -> the same stages on what changed -> the whole venv audited
//! ```
//!
//! [`pipeline`] runs the stages after installation for both programs; [`staging`] makes a run all
//! or nothing, with a journal that the next run rolls back when a run was killed, and [`outputs`]
//! writes the files outside the venv all at once. Below the stages are the leaves they share: [`tree`] (walk, the atomic writer, the ELF
//! and execute-bit checks), [`snapshot`], [`command`] (running a program), [`interrupt`],
//! [`shebang`] (the one `#!` parser), [`record`] (RECORD files), [`pathmatch`] and [`leak`] (finding a
//! path in a file), [`wheelhouse`], [`tags`], [`pep440`] and [`markers`] (PEP 508 markers for the
//! target interpreter), [`debhelper`] (the environment, packages, substvars, autoscripts,
//! debian/rules) and [`options`].
//!
//! The modules are declared below in that order, leaves first and programs last: a module uses only
//! the modules declared before it, never lib.rs and never a later stage (tests/layering.rs checks
//! this). A helper two stages need moves down to a leaf.

#![warn(missing_docs)]

// Leaves first, the programs last: a module uses only the modules above it (tests/layering.rs).
pub mod tree;
pub mod snapshot;
pub mod outputs;
pub mod interrupt;
pub mod command;
pub mod shebang;
pub mod pathmatch;
pub mod leak;
pub mod wheelhouse;
pub mod tags;
pub mod pep440;
pub mod markers;
pub mod debhelper;
pub mod options;
pub mod layout;
pub mod record;
pub mod buildsystem;
pub mod interpreter;
pub mod cross;
pub mod install;
pub mod inventory;
pub mod relocate;
pub mod normalize;
pub mod bytecode;
pub mod elf;
pub mod depends;
pub mod lintian;
pub mod audit;
pub mod sbom;
pub mod state;
pub mod staging;
pub mod pipeline;
pub mod dh_rustvenv;
pub mod dh_rustvenv_finish;
pub mod download;
