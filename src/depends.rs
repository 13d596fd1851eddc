//! `${rustvenv:Depends}`: what the installed venv needs from the system.
//!
//! Takes the [`Interpreter`] the venv was built with and the ELF stage's [`ElfFile`]s. The interpreter
//! maps to its Debian package, found with `dpkg -S`: a venv only runs with the Python minor version it
//! was built for (its site-packages is `lib/python3.X`, its extension modules carry that version's ABI
//! tag), so the dependency names the versioned interpreter package, `python3.X`, as dh_python3 does for
//! private directories. Each shared library an ELF file needs is resolved as the dynamic loader would at
//! the final path: found inside the venv (through `$ORIGIN` RPATH/RUNPATH, its own directory, or a
//! bundled library of that SONAME) it is bundled and adds nothing; found on the system it goes to
//! `dpkg-shlibdeps`, which maps it to its package and minimum version through the shlibs and symbols
//! files. [`place_dependencies`] says which substvar each dependency goes to, one that
//! `debian/control` reads; the pipeline writes them to `debian/<package>.substvars` with debhelper's
//! merge semantics. This stage writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::command::Command;
use crate::debhelper::{Relations, Reporter};
use crate::elf::{self, ElfFile, ElfKind};
use crate::interpreter::Interpreter;
use crate::layout::Flavour;

/// The package that provides `interpreter`, as a dependency: `python3.11` for Debian's
/// `/usr/bin/python3.11`. None when no Debian package ships the interpreter (a locally built Python):
/// then nothing can be declared, and the caller warns.
///
/// # Errors
/// When `dpkg-query` cannot be started.
pub fn interpreter_dependency(interpreter: &Interpreter) -> Result<Option<String>> {
    let search = Command::new("dpkg-query")
        .arg("-S")
        .arg(&interpreter.path)
        .query();
    match search {
        Ok(output) => Ok(package_from_search(&output, &interpreter.major_minor())),
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(crate::command::CommandError::NotStarted { .. })
            ) =>
        {
            Err(e)
        }
        Err(_) => Ok(None),
    }
}

/// Reads `dpkg-query -S` output (`package[:arch][, package…]: /path`) and maps Debian's
/// `pythonX.Y-minimal`, which ships only the executable and a few modules, to the full `pythonX.Y`.
fn package_from_search(output: &str, major_minor: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains(": "))?;
    let (packages, _) = line.split_once(": ")?;
    let first = packages.split(", ").next()?.trim();
    let name = first.split(':').next()?.to_owned();
    if name == format!("python{major_minor}-minimal") {
        return Some(format!("python{major_minor}"));
    }
    (!name.is_empty()).then_some(name)
}

/// Where the dependencies of one package go: the (substvar, item) pairs to write, and what to tell
/// the user about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// (substvar, item) pairs, sorted: (`misc:Depends`, `python3.11`).
    pub items: Vec<(String, String)>,
    /// One line each: why a dependency went to a fallback substvar (for the user's information).
    pub notes: Vec<String>,
    /// One line each: a substvar that holds dependencies but that no relation field of
    /// `debian/control` names, so that they would be lost; the line names the field to add it to.
    pub warnings: Vec<String>,
}

/// Where each dependency goes, read against the substvars the package's relation fields in
/// `debian/control` name (`relations`), so that none is left in a substvar that no field names
/// (dpkg-gencontrol(1) drops such a value, "unused, but is defined").
///
/// With [`Flavour::Rustvenv`], the interpreter and the libraries go to `${rustvenv:Depends}`, except
/// the items whose package is named in `recommends` or `suggests`, which go to
/// `${rustvenv:Recommends}` and `${rustvenv:Suggests}`; a warning names the field to add a substvar
/// to when no field names it.
///
/// With [`Flavour::DhVirtualenv`] the substvars are those an unedited debian/control of a
/// dh-virtualenv package names: the interpreter goes to `${misc:Depends}` (or `${shlibs:Depends}`
/// when only that is named); the libraries go to `${shlibs:Depends}` (`${shlibs:Recommends}`,
/// `${shlibs:Suggests}`) when the control file names it, where dh_shlibdeps put them under
/// dh-virtualenv, and otherwise to `${misc:Depends}` (`${misc:Recommends}`, `${misc:Suggests}`) with
/// a note. `shlibs_taken` (dh_shlibdeps will rewrite the shlibs variables for ELF files outside the
/// venv) sends them to the misc substvars in any case.
pub fn place_dependencies(
    flavour: Flavour,
    relations: &Relations,
    interpreter: Option<&str>,
    libraries: &[String],
    (recommends, suggests): (&[String], &[String]),
    shlibs_taken: bool,
) -> Placement {
    let named = |item: &str, packages: &[String]| {
        let package = item
            .split(['|', ' ', '(', ':'])
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        packages.iter().any(|p| p == package)
    };
    // Each dependency with the relation field it belongs to.
    let mut wanted: Vec<(&str, &str, bool)> = Vec::new();
    if let Some(interpreter) = interpreter {
        wanted.push(("Depends", interpreter, true));
    }
    for library in libraries {
        let field = if named(library, suggests) {
            "Suggests"
        } else if named(library, recommends) {
            "Recommends"
        } else {
            "Depends"
        };
        wanted.push((field, library, false));
    }
    let mut placement = Placement::default();
    let mut items: BTreeSet<(String, String)> = BTreeSet::new();
    let mut told: BTreeSet<String> = BTreeSet::new();
    for (field, item, is_interpreter) in wanted {
        let candidates: Vec<String> = match flavour {
            Flavour::Rustvenv => vec![format!("rustvenv:{field}")],
            Flavour::DhVirtualenv if is_interpreter => {
                vec!["misc:Depends".to_owned(), "shlibs:Depends".to_owned()]
            }
            Flavour::DhVirtualenv if shlibs_taken => vec![format!("misc:{field}")],
            Flavour::DhVirtualenv => vec![format!("shlibs:{field}"), format!("misc:{field}")],
        };
        let substvar = match candidates.iter().find(|c| relations.names(c)) {
            Some(found) => {
                if found != &candidates[0] && told.insert(found.clone()) {
                    placement.notes.push(format!(
                        "debian/control names no ${{{}}}, so the venv's {} go to ${{{found}}}",
                        candidates[0],
                        if is_interpreter {
                            "interpreter dependency".to_owned()
                        } else {
                            format!("library dependencies ({field})")
                        }
                    ));
                }
                found.clone()
            }
            None => {
                let first = candidates[0].clone();
                if told.insert(first.clone()) {
                    let alternatives: Vec<String> =
                        candidates.iter().map(|c| format!("${{{c}}}")).collect();
                    placement.warnings.push(format!(
                        "no relation field of debian/control names {}, so the dependency on {item} \
                         (and any other of that kind) would be lost; add ${{{first}}} to the {field} \
                         field",
                        alternatives.join(" or ")
                    ));
                }
                first
            }
        };
        items.insert((substvar, item.to_owned()));
    }
    placement.items = items.into_iter().collect();
    placement
}

/// Where a needed shared library is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Inside the venv: the library file, in the staging tree.
    Bundled(PathBuf),
    /// On the build system: the library file (its package becomes a dependency).
    System(PathBuf),
    /// Nowhere.
    Missing,
}

/// One `DT_NEEDED` entry of one ELF file, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededLibrary {
    /// The ELF file that needs it, in the staging tree.
    pub file: PathBuf,
    /// The SONAME it needs.
    pub soname: String,
    /// Where it is found.
    pub resolution: Resolution,
}

/// Resolves every NEEDED entry of `files` as the dynamic loader would once the venv is at
/// `final_root`: the file's RPATH/RUNPATH (with `$ORIGIN` the file's own directory, and paths inside
/// `final_root` mapped into the staging tree), its own directory (a bundled library found by its
/// parent's RPATH, as auditwheel's `.libs` directories are), any bundled library of that SONAME, and
/// then the system (`system_library`, given the SONAME and the needing file's machine: the ld.so cache
/// holds the libraries of every installed architecture).
pub fn resolve(
    files: &[ElfFile],
    staging_root: &Path,
    final_root: &Path,
    system_library: &dyn Fn(&str, u16) -> Option<PathBuf>,
) -> Vec<NeededLibrary> {
    let bundled_by_name: BTreeMap<String, PathBuf> = files
        .iter()
        .flat_map(|f| {
            let name = f.path.file_name().map(|n| n.to_string_lossy().into_owned());
            f.soname
                .clone()
                .into_iter()
                .chain(name)
                .map(move |n| (n, f.path.clone()))
        })
        .collect();
    let mut resolved = Vec::new();
    for file in files {
        let own_dir = file.path.parent().unwrap_or(staging_root).to_path_buf();
        let mut dirs: Vec<PathBuf> = file
            .search_paths
            .iter()
            .map(|entry| {
                let expanded = entry
                    .replace("${ORIGIN}", &own_dir.to_string_lossy())
                    .replace("$ORIGIN", &own_dir.to_string_lossy());
                let path = crate::tree::normalize(Path::new(&expanded));
                match path.strip_prefix(final_root) {
                    Ok(inside) => staging_root.join(inside),
                    Err(_) => path,
                }
            })
            .collect();
        dirs.push(own_dir);
        for soname in &file.needed {
            let in_dirs = dirs.iter().map(|d| d.join(soname)).find(|p| p.exists());
            let resolution = match in_dirs {
                Some(path) if path.starts_with(staging_root) => Resolution::Bundled(path),
                Some(path) => Resolution::System(path),
                None => match bundled_by_name.get(soname) {
                    Some(path) => Resolution::Bundled(path.clone()),
                    None => system_library(soname, file.machine)
                        .map_or(Resolution::Missing, Resolution::System),
                },
            };
            resolved.push(NeededLibrary {
                file: file.path.clone(),
                soname: soname.clone(),
                resolution,
            });
        }
    }
    resolved
}

/// The ld.so cache (`ldconfig -p`): every library file of each SONAME, of every installed
/// architecture.
///
/// # Errors
/// When ldconfig cannot be run.
pub fn system_libraries() -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let listing = Command::new("/sbin/ldconfig").arg("-p").query()?;
    Ok(parse_ldconfig(&listing))
}

/// Reads `ldconfig -p` lines such as `\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1`,
/// keeping every file of a name in the cache's order.
fn parse_ldconfig(listing: &str) -> BTreeMap<String, Vec<PathBuf>> {
    let mut libraries: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for line in listing.lines() {
        let Some((left, path)) = line.split_once(" => ") else {
            continue;
        };
        let Some(name) = left.split_whitespace().next() else {
            continue;
        };
        libraries
            .entry(name.to_owned())
            .or_default()
            .push(PathBuf::from(path.trim()));
    }
    libraries
}

/// The dependencies of the venv's ELF files on system libraries, from `dpkg-shlibdeps`, run in the
/// source package with `-l` for every directory of bundled libraries (as installed paths, which
/// dpkg-shlibdeps looks up in the package build directories) so that it finds them there.
///
/// Files that need a library named in `ignored` that is nowhere to be found are left out of
/// dpkg-shlibdeps (it would stop at the missing library).
///
/// # Errors
/// When a needed library is neither in the venv nor on the system and is not in `ignored` (the message
/// names the ELF file and the library, and says what to do), or when dpkg-shlibdeps fails.
///
/// # References
/// dpkg-shlibdeps(1); deb-shlibs(5), deb-symbols(5); Debian Policy 8.6.
pub fn shared_library_dependencies(
    files: &[ElfFile],
    needed: &[NeededLibrary],
    staging_root: &Path,
    final_root: &Path,
    ignored: &[String],
) -> Result<Vec<String>> {
    let shown = |path: &Path| {
        path.strip_prefix(staging_root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut left_out: BTreeSet<&Path> = BTreeSet::new();
    for library in needed
        .iter()
        .filter(|l| l.resolution == Resolution::Missing)
    {
        if ignored.contains(&library.soname) {
            left_out.insert(&library.file);
            continue;
        }
        bail!(
            "{} needs {}, which is neither in the venv nor installed on this system; install the package \
             that ships it (and add it to Build-Depends), or pass --ignore-library {} if the target systems \
             provide it another way",
            shown(&library.file),
            library.soname,
            library.soname
        );
    }
    let analysed: Vec<&ElfFile> = files
        .iter()
        .filter(|f| f.kind != ElfKind::Other && !left_out.contains(f.path.as_path()))
        .collect();
    if analysed.is_empty() {
        return Ok(Vec::new());
    }
    let bundled_dirs: BTreeSet<PathBuf> = needed
        .iter()
        .filter_map(|l| match &l.resolution {
            Resolution::Bundled(path) => path
                .parent()
                .and_then(|d| d.strip_prefix(staging_root).ok()),
            _ => None,
        })
        .map(|inside| final_root.join(inside))
        .collect();
    let output = Command::new("dpkg-shlibdeps")
        .args(["-O", "-prustvenv"])
        .args(bundled_dirs.iter().map(|d| format!("-l{}", d.display())))
        .args(analysed.iter().map(|f| format!("-e{}", f.path.display())))
        .query()
        .map_err(|e| anyhow::anyhow!("dpkg-shlibdeps: {e:#}"))?;
    Ok(output
        .lines()
        .filter_map(|l| l.strip_prefix("rustvenv:Depends="))
        .flat_map(|v| v.split(", "))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The depends stage's library part: the packages of the system libraries the venv's ELF files need,
/// as dpkg-shlibdeps writes them (`libc6 (>= 2.34)`).
///
/// In a cross build (`cross`), the host's libraries are found in its multiarch directories
/// (`/lib/aarch64-linux-gnu`, `/usr/lib/aarch64-linux-gnu`) as well, which the build machine's
/// ld.so cache does not list; dpkg-shlibdeps, run with dpkg-buildpackage's `DEB_HOST_ARCH`, maps
/// them to the host's packages.
pub fn library_dependencies(
    staging_root: &Path,
    final_root: &Path,
    elf_report: &elf::ElfReport,
    ignored: &[String],
    cross: Option<&crate::debhelper::CrossArchitecture>,
    reporter: &Reporter,
) -> Result<Vec<String>> {
    let mut dependencies = Vec::new();
    if elf_report.files.is_empty() {
        return Ok(dependencies);
    }
    let system = system_libraries()?;
    // The first library of that name built for the same machine, as the loader picks it.
    let host_dirs: Vec<PathBuf> = cross
        .map(|c| {
            ["/lib", "/usr/lib"]
                .iter()
                .map(|d| Path::new(d).join(&c.host_multiarch))
                .collect()
        })
        .unwrap_or_default();
    let system_library = |soname: &str, machine: u16| {
        let cached = system.get(soname).into_iter().flatten().cloned();
        let host = host_dirs.iter().map(|d| d.join(soname));
        cached
            .chain(host)
            .find(|path| elf::machine_of(path) == Some(machine))
    };
    let needed = resolve(&elf_report.files, staging_root, final_root, &system_library);
    for library in &needed {
        let file = library
            .file
            .strip_prefix(staging_root)
            .unwrap_or(&library.file);
        reporter.verbose_print(format!(
            "# depends: {} needs {}: {}",
            file.display(),
            library.soname,
            match &library.resolution {
                Resolution::Bundled(path) => format!(
                    "bundled, {}",
                    path.strip_prefix(staging_root).unwrap_or(path).display()
                ),
                Resolution::System(path) => format!("system, {}", path.display()),
                Resolution::Missing => "not found (ignored)".to_owned(),
            }
        ));
    }
    let libraries = shared_library_dependencies(
        &elf_report.files,
        &needed,
        staging_root,
        final_root,
        ignored,
    )?;
    reporter.verbose_print(format!("# depends: {}", libraries.join(", ")));
    dependencies.extend(libraries);
    Ok(dependencies)
}

/// Whether the package build directory `tmpdir` (absolute) holds an ELF file outside the venv at
/// `staging_root`.
pub fn elf_outside(tmpdir: &Path, staging_root: &Path) -> Result<bool> {
    if !tmpdir.is_dir() {
        // The venv of dh-virtualenv's build system went to debian/tmp, before dh_install.
        return Ok(false);
    }
    for entry in crate::tree::walk(tmpdir).filter_entry(|e| e.path() != staging_root) {
        let entry = entry.with_context(|| format!("reading {}", tmpdir.display()))?;
        if entry.file_type().is_file() && crate::tree::is_elf_file(entry.path()) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_go_where_each_front_door_expects_them() {
        let libraries = ["libc6 (>= 2.34)".to_owned(), "libpq5 (>= 10~~)".to_owned()];
        let recommends = ["libpq5".to_owned()];
        let pairs = |v: Vec<(String, String)>| -> Vec<String> {
            v.into_iter().map(|(a, b)| format!("{a}={b}")).collect()
        };
        let control = |depends: &str| Relations {
            fields: [
                ("Depends".to_owned(), depends.to_owned()),
                (
                    "Recommends".to_owned(),
                    "${rustvenv:Recommends}, ${shlibs:Recommends}".to_owned(),
                ),
            ]
            .into(),
        };
        let native = place_dependencies(
            Flavour::Rustvenv,
            &control("${rustvenv:Depends}, ${misc:Depends}"),
            Some("python3.11"),
            &libraries,
            (&recommends, &[]),
            false,
        );
        assert_eq!(
            pairs(native.items),
            [
                "rustvenv:Depends=libc6 (>= 2.34)",
                "rustvenv:Depends=python3.11",
                "rustvenv:Recommends=libpq5 (>= 10~~)"
            ]
        );
        assert!(native.notes.is_empty() && native.warnings.is_empty());
        // An unedited control file of a dh-virtualenv package.
        let unedited = place_dependencies(
            Flavour::DhVirtualenv,
            &control("${shlibs:Depends}, ${misc:Depends}"),
            Some("python3.11"),
            &libraries,
            (&[], &["libpq5".to_owned()]),
            false,
        );
        assert_eq!(
            pairs(unedited.items),
            [
                "misc:Depends=python3.11",
                "shlibs:Depends=libc6 (>= 2.34)",
                "shlibs:Suggests=libpq5 (>= 10~~)"
            ]
        );
        // No field names ${shlibs:Suggests} or ${misc:Suggests}: a warning names the field.
        assert_eq!(unedited.warnings.len(), 1, "{:?}", unedited.warnings);
        assert!(unedited.warnings[0].contains("to the Suggests field"));
        // Only ${misc:Depends}: the libraries go there, with a note.
        let misc_only = place_dependencies(
            Flavour::DhVirtualenv,
            &control("${misc:Depends}"),
            Some("python3.11"),
            &libraries[..1],
            (&[], &[]),
            false,
        );
        assert_eq!(
            pairs(misc_only.items),
            ["misc:Depends=libc6 (>= 2.34)", "misc:Depends=python3.11"]
        );
        assert_eq!(misc_only.notes.len(), 1);
        assert!(misc_only.warnings.is_empty());
        assert_eq!(
            pairs(
                place_dependencies(
                    Flavour::DhVirtualenv,
                    &control("${shlibs:Depends}, ${misc:Depends}"),
                    None,
                    &libraries[..1],
                    (&[], &[]),
                    true
                )
                .items
            ),
            ["misc:Depends=libc6 (>= 2.34)"]
        );
        // The native add-on, in a control file that does not name ${rustvenv:Depends}.
        let forgotten = place_dependencies(
            Flavour::Rustvenv,
            &control("${misc:Depends}"),
            Some("python3.11"),
            &[],
            (&[], &[]),
            false,
        );
        assert_eq!(pairs(forgotten.items), ["rustvenv:Depends=python3.11"]);
        assert!(forgotten.warnings[0].contains("add ${rustvenv:Depends} to the Depends field"));
    }

    fn elf(path: &str, needed: &[&str], search_paths: &[&str], soname: Option<&str>) -> ElfFile {
        ElfFile {
            path: PathBuf::from(path),
            kind: ElfKind::SharedObject,
            dynamic: true,
            machine: 62,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            search_paths: search_paths.iter().map(|s| s.to_string()).collect(),
            foreign_search_paths: Vec::new(),
            soname: soname.map(str::to_owned),
            build_id: None,
            has_debug_info: false,
            has_symtab: true,
            patchelf_layout: false,
        }
    }

    #[test]
    fn resolves_bundled_libraries_like_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("debian/demo/opt/venvs/demo");
        let site = staging.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("pkg.libs")).unwrap();
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        std::fs::write(site.join("pkg.libs/libhelper-1234.so"), "").unwrap();
        std::fs::write(site.join("pkg.libs/libsibling-5678.so"), "").unwrap();
        let ext = site.join("pkg/_ext.so");
        let helper = site.join("pkg.libs/libhelper-1234.so");
        let files = vec![
            elf(
                &ext.to_string_lossy(),
                &["libhelper-1234.so", "libz.so.1"],
                &["$ORIGIN/../pkg.libs"],
                None,
            ),
            elf(
                &helper.to_string_lossy(),
                &["libsibling-5678.so", "libgone.so.3"],
                &[],
                Some("libhelper-1234.so"),
            ),
        ];
        let system = |name: &str, machine: u16| {
            (name == "libz.so.1" && machine == 62)
                .then(|| PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"))
        };
        let resolved = resolve(&files, &staging, Path::new("/opt/venvs/demo"), &system);
        let by_name: BTreeMap<&str, &Resolution> = resolved
            .iter()
            .map(|l| (l.soname.as_str(), &l.resolution))
            .collect();
        assert_eq!(
            by_name["libhelper-1234.so"],
            &Resolution::Bundled(helper.clone())
        );
        assert_eq!(
            by_name["libsibling-5678.so"],
            &Resolution::Bundled(site.join("pkg.libs/libsibling-5678.so"))
        );
        assert_eq!(
            by_name["libz.so.1"],
            &Resolution::System("/lib/x86_64-linux-gnu/libz.so.1".into())
        );
        assert_eq!(by_name["libgone.so.3"], &Resolution::Missing);

        let err = shared_library_dependencies(
            &files,
            &resolved,
            &staging,
            Path::new("/opt/venvs/demo"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "lib/python3.11/site-packages/pkg.libs/libhelper-1234.so needs libgone.so.3"
            ),
            "{err}"
        );
        assert!(err.contains("--ignore-library libgone.so.3"), "{err}");
    }

    #[test]
    fn reads_the_ldconfig_cache() {
        let listing = "2 libs found in cache `/etc/ld.so.cache'\n\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1\n";
        let libraries = parse_ldconfig(listing);
        assert_eq!(
            libraries["libz.so.1"],
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"),
                PathBuf::from("/lib/i386-linux-gnu/libz.so.1")
            ]
        );
    }

    #[test]
    fn minimal_maps_to_the_full_interpreter_package() {
        let out = "python3.11-minimal: /usr/bin/python3.11\n";
        assert_eq!(
            package_from_search(out, "3.11").as_deref(),
            Some("python3.11")
        );
    }

    #[test]
    fn other_packages_and_arch_qualifiers() {
        assert_eq!(
            package_from_search("python3.12-nopie:amd64, x: /usr/bin/python3.12\n", "3.12")
                .as_deref(),
            Some("python3.12-nopie")
        );
        assert_eq!(package_from_search("", "3.11"), None);
    }
}
