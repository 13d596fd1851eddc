//! What debhelper owns: the environment it sets, the packages to act on, messages and commands, substvars
//! and maintainer-script snippets.
//!
//! This mirrors the parts of debhelper 13.11's `Dh_Lib.pm` that a dh_ program must honour (`init`,
//! `doit`/`verbose_print`, `error`/`warning`, `addsubstvar`, `autoscript`), and delegates the package
//! list to `dh_listpackages` so that `debian/control`, architectures and build profiles are read exactly
//! as every other dh_ program reads them. The environment is read once, in [`Environment::from_process`],
//! and handed forward; nothing here keeps global state.
//!
//! One job per file; every item is re-exported here, so `crate::debhelper::X` is its one path:
//! - `env.rs`: [`Environment`] (every environment variable read), [`DhVirtualenvEnvironment`],
//!   [`COMPILER_VARIABLES`], [`Environment::build_option`].
//! - `architecture.rs`: [`CrossArchitecture`], the host architecture of a cross build and its tools.
//! - `reporter.rs`: [`Reporter`], messages on stderr and commands run as `doit` runs them.
//! - `packages.rs`: [`Package`], [`selected_packages`] (`dh_listpackages`), [`Package::pkgfile`],
//!   [`read_package_config`].
//! - `control.rs`: `debian/control` through one call to dpkg's parser: [`control_info`]
//!   ([`ControlInfo`]), [`Relations`], [`read_control`].
//! - `substvars.rs`: [`merge_substvar`], [`unmerge_substvar`], [`add_substvar`],
//!   [`remove_substvar_items`].
//! - `autoscript.rs`: [`autoscript()`], [`autoscript_block`].
//! - `rules.rs`: [`rules_targets`], the targets of `debian/rules` from make's database.
//!
//! Arrows inside point down: `packages` uses `control`; `autoscript` reads files as `substvars` does;
//! `reporter` and `autoscript` use [`TOOL`]; none uses a later stage or lib.rs.

mod architecture;
mod autoscript;
mod control;
mod env;
mod packages;
mod reporter;
mod rules;
mod substvars;

pub use architecture::{CrossArchitecture, host_tool};
pub use autoscript::{autoscript, autoscript_block};
pub use control::{ControlInfo, Relations, control_info, read_control};
pub use env::{ArchitectureVariables, COMPILER_VARIABLES, DhVirtualenvEnvironment, Environment};
pub use packages::{Package, read_package_config, selected_packages};
pub use reporter::Reporter;
pub use rules::rules_targets;
pub use substvars::{add_substvar, merge_substvar, remove_substvar_items, unmerge_substvar};

/// The program's name, as it appears at the start of every message.
pub const TOOL: &str = "dh_rustvenv";
