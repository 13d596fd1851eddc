//! `--download` and `--download-for` with a lock file: the wheelhouse gets exactly the locked
//! artifacts of each target, each checked against the lock's sha256, and the build requirements of
//! the project and of the locked sdists (which the lock does not cover, as PEP 751 does not).
//!
//! A file the lock gives a URL for (pylock.toml, uv.lock) is fetched from that URL by the
//! interpreter's `urllib`; one it names only by file (poetry.lock) by `pip download --no-deps
//! --require-hashes name==version --hash=…`, which takes the one file of that hash from the index.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{LockPlan, LockedArtifact, Source, Target, check_file, choose_artifacts, read_lock};
use crate::debhelper::Reporter;
use crate::install::InstallPlan;
use crate::install::venv::python_command;
use crate::layout::Layout;
use crate::markers::MarkerEnvironment;
use crate::wheelhouse::{self, DownloadTarget};

/// Fetches `url` to the file given second, through a `.part` file, checking its sha256 (third).
const FETCH_PY: &str = r#"
import hashlib, os, sys, urllib.request
url, dest, expected = sys.argv[1:4]
part = dest + ".part"
digest = hashlib.sha256()
with urllib.request.urlopen(url) as response, open(part, "wb") as out:
    while True:
        chunk = response.read(1 << 16)
        if not chunk:
            break
        digest.update(chunk)
        out.write(chunk)
if digest.hexdigest() != expected:
    os.unlink(part)
    sys.exit(f"hash mismatch: {url} has sha256 {digest.hexdigest()}, the lock has {expected}")
os.replace(part, dest)
"#;

/// What a lock download runs with: the pip of a scratch venv (`python`), in the source directory.
pub struct Fetcher<'a> {
    /// The layout of the package.
    pub layout: &'a Layout,
    /// The install plan (index arguments, temporary directory).
    pub plan: &'a InstallPlan,
    /// The reporter commands are run through.
    pub reporter: &'a Reporter,
    /// The python of the scratch venv that has pip.
    pub python: &'a Path,
    /// The wheelhouse filled.
    pub wheelhouse: &'a Path,
}

impl Fetcher<'_> {
    /// Puts each of `artifacts` into the wheelhouse unless it is there with its hash, then checks
    /// every one; `target_args` are pip's target arguments (`--python-version`, `--platform`, …) for a
    /// file fetched by name. Returns how many files were fetched.
    ///
    /// # Errors
    /// When a download fails, or a file does not have the lock's hash (the message names the file).
    pub fn fetch(&self, artifacts: &[LockedArtifact], target_args: &[String]) -> Result<usize> {
        let mut fetched = 0;
        for artifact in artifacts {
            let path = self.wheelhouse.join(&artifact.file.file_name);
            let package = super::LockedPackage {
                name: artifact.name.clone(),
                version: artifact.version.clone(),
                files: vec![artifact.file.clone()],
            };
            if check_file(&path, &package, &artifact.file, self.wheelhouse).is_ok() {
                continue;
            }
            let command = match &artifact.file.url {
                Some(url) => python_command(self.python, self.plan)
                    .args(["-I", "-c", FETCH_PY])
                    .arg(url)
                    .arg(&path)
                    .arg(&artifact.file.sha256),
                None => {
                    let requirement = self.plan.temp_dir.join("locked-download.txt");
                    std::fs::write(
                        &requirement,
                        format!(
                            "{}=={} --hash=sha256:{}\n",
                            artifact.name, artifact.version, artifact.file.sha256
                        ),
                    )
                    .with_context(|| format!("writing {}", requirement.display()))?;
                    python_command(self.python, self.plan)
                        .args([
                            "-m",
                            "pip",
                            "download",
                            "--no-deps",
                            "--require-hashes",
                            "-d",
                        ])
                        .arg(self.wheelhouse)
                        .args(&self.plan.index_args)
                        .args(target_args)
                        .arg("-r")
                        .arg(&requirement)
                }
            };
            self.reporter
                .doit(&command.dir(&self.layout.source_dir))
                .with_context(|| {
                    format!(
                        "downloading {} of {} {}",
                        artifact.file.file_name, artifact.name, artifact.version
                    )
                })?;
            check_file(&path, &package, &artifact.file, self.wheelhouse)?;
            fetched += 1;
        }
        Ok(fetched)
    }

    /// Downloads the build requirements of the project and of the locked sdists among `artifacts`
    /// (with their dependencies; `target_args` as for [`Fetcher::fetch`], wheels only then).
    ///
    /// # Errors
    /// When the requirements cannot be read or pip fails.
    pub fn build_requirements(
        &self,
        artifacts: &[LockedArtifact],
        target_args: &[String],
    ) -> Result<()> {
        let mut sources: Vec<PathBuf> = self.plan.project.iter().cloned().collect();
        sources.extend(
            artifacts
                .iter()
                .filter(|a| wheelhouse::is_sdist(&a.file.file_name))
                .map(|a| self.wheelhouse.join(&a.file.file_name)),
        );
        let mut wanted: Vec<String> = Vec::new();
        for source in &sources {
            let output = python_command(self.python, self.plan)
                .args(["-c", wheelhouse::BUILD_REQUIRES_PY])
                .arg(source)
                .query()
                .with_context(|| {
                    format!("reading the build requirements of {}", source.display())
                })?;
            for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !wanted.iter().any(|w| w == line) {
                    wanted.push(line.to_owned());
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let binary: &[&str] = if target_args.is_empty() {
            &[]
        } else {
            &["--only-binary=:all:"]
        };
        self.reporter
            .doit(
                &python_command(self.python, self.plan)
                    .args(["-m", "pip", "download", "-d"])
                    .arg(self.wheelhouse)
                    .args(&self.plan.index_args)
                    .args(binary)
                    .args(target_args)
                    .args(&wanted)
                    .dir(&self.layout.source_dir),
            )
            .with_context(|| format!("downloading the build requirements {}", wanted.join(" ")))
    }
}

/// The locked artifacts of `lock` for `target` (`--download-for`), the machine that of the host
/// architecture `arch`: the lock read again with that interpreter's markers (its patch version taken
/// as 0) and tags.
///
/// # Errors
/// When the architecture has no manylinux wheels, or the lock has no artifact for the target.
pub fn artifacts_for(
    lock: &LockPlan,
    target: &DownloadTarget,
    arch: &str,
    extras: &[String],
    groups: &[String],
    project_dir: &Path,
    wheelhouse: &Path,
) -> Result<Vec<LockedArtifact>> {
    let Some(machine) = wheelhouse::manylinux_machine(arch) else {
        bail!("there are no manylinux wheels for the architecture {arch}");
    };
    let mut env = MarkerEnvironment::cpython((3, target.python_minor, 0), machine);
    env.extras = extras.to_vec();
    env.dependency_groups = groups.to_vec();
    let target = Target {
        env,
        tags: crate::tags::compatible_tags(target.python_minor, machine, Some(target.glibc_minor)),
        groups_named: !groups.is_empty(),
    };
    let read = read_lock(&lock.file, lock.format, &target, project_dir)?;
    let artifacts = choose_artifacts(&read.packages, &target.tags, Some(wheelhouse), true)?;
    Ok(artifacts
        .into_iter()
        .map(|a| LockedArtifact {
            source: Source::Wheelhouse(wheelhouse.join(&a.file.file_name)),
            ..a
        })
        .collect())
}
