//! Fault injection (issue 17): dh_rustvenv and dh_rustvenv_finish are killed (SIGKILL to the
//! process alone and to its process group, SIGTERM to the process) or run out of space (ENOSPC) at
//! each stage, then run again without cleaning, as a user reruns a build.
//!
//! The fixture is a source package written as users write them (`dh $@ --with rustvenv`, an
//! override_dh_rustvenv installing pinned wheels from a vendored wheelhouse, a debian/<pkg>.install
//! putting a configuration file into the venv's directory), prepared once by running dh's sequence
//! up to dh_rustvenv; every case starts from a copy of it, at the same path. The venv holds an ELF
//! file (the compiled extension of a wheel), so the strip stage runs. Before dh_rustvenv the venv's
//! directory holds `etc/pre.conf` (from dh_install) and `etc/linked.conf`, a hard link to a file of
//! a sentinel directory outside the package and source trees, naming the staging path (so
//! relocation rewrites it). dh_rustvenv_finish runs on a copy of a successful build to which a
//! script whose shebang names the staging path, a file naming the staging path (hard-linked to the
//! sentinel) and an unstripped shared object the test compiles were added.
//!
//! Each fault fires when its stage's marker appears on the program's output, read line by line as
//! it comes: with `DH_VERBOSE=1` pip's own output (its first line, once it runs, and the line
//! before it installs), with `DH_RUSTVENV_TIMINGS=1` the line printed at the end of each stage (the
//! end of stage N is the start of stage N+1: relocate, strip, outputs, commit), and the strip and
//! objcopy command lines echoed under DH_VERBOSE (a child writing its temporary file). The program
//! runs in a process group of its own, so that a SIGKILL to the group does not reach the test.
//! ENOSPC comes from a small tmpfs holding the source package: the test mounts it itself (it runs
//! as root) on a scratch directory and unmounts it when done, which is simpler than running every
//! case inside `unshare -m`. Before an ENOSPC run all but a few MiB are taken by a ballast file; at
//! the marker the rest is filled, so the program's following writes fail.
//!
//! After the faulted run each case checks that (a) the venv's directory holds what it held before
//! (or, when the run still succeeded, a complete venv; after a SIGKILL, which leaves the roll-back
//! to the next run, that every earlier file can still be found in the tree, and, for dh_rustvenv,
//! that the next run's roll-back restores the directory: dh_rustvenv_finish rolls back a killed run
//! of either program), (b) every output is as before or complete, all of them one or the other, and
//! none of our temporary files is left, (c) no file of the sentinel directory changed, (d) no
//! process naming the scratch directory is left a moment after the run ended. After the rerun,
//! which must succeed, (e) the venv is complete: the earlier files are there with their content,
//! the console script runs, nothing in the venv names the scratch directory. A last pair of runs
//! plants symlinks at the temporary names of the files the programs rewrite, pointing into the
//! sentinel directory.
//!
//! Opt in with `DH_RUSTVENV_FAULT_TESTS=1`; needs root (mount).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{describe, files_naming, run, run_unchecked, scratch, with_tool_env};
use sha2::{Digest, Sha256};

/// The binary package of the fixture, and its venv's path on the installed system.
const PACKAGE: &str = "rvfault";
const FINAL_ROOT: &str = "/opt/venvs/rvfault";

/// How long a run may take before the test gives up on it (and kills its process group).
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// How long the program's output pipes may stay open after it ended, and how long the children of a
/// killed run get to go, before a process still holding them counts as left behind: short, as a
/// child that dies with its parent dies at once, and a pip left running would otherwise finish its
/// install and go unseen.
const GRACE: Duration = Duration::from_millis(250);

/// The space an ENOSPC run starts with on the tmpfs: enough for pip to unpack the wheels.
const HEADROOM: u64 = 8 << 20;

/// Suffixes of the temporary files dh_rustvenv writes next to the files it replaces.
const TEMPORARY_SUFFIXES: [&str; 3] =
    [".dh-rustvenv-tmp", ".dh-rustvenv-new", ".dh-rustvenv-strip"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Program {
    Build,
    Finish,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Build => "dh_rustvenv",
            Program::Finish => "dh_rustvenv_finish",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    /// SIGKILL to the program's process alone.
    KillProcess,
    /// SIGKILL to the program's process group (the test starts it in a group of its own).
    KillGroup,
    /// SIGTERM to the program's process, as sbuild's time-out or `kill` sends it.
    Term,
    /// The file system holding the source package is filled.
    NoSpace,
    /// No fault: symlinks into the sentinel directory wait at the temporary names of the venv's files
    /// the program rewrites.
    Planted,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::KillProcess => "SIGKILL process",
            Fault::KillGroup => "SIGKILL group",
            Fault::Term => "SIGTERM process",
            Fault::NoSpace => "ENOSPC",
            Fault::Planted => "planted symlinks",
        }
    }

    fn is_kill(self) -> bool {
        matches!(self, Fault::KillProcess | Fault::KillGroup)
    }
}

/// A line of the program's output that marks the moment a stage starts.
#[derive(Clone, Copy, Debug)]
enum Marker {
    /// A line containing this text, on stdout (a command echoed under DH_VERBOSE) or stderr (where
    /// dh_rustvenv sends pip's output under DH_VERBOSE).
    Line(&'static str),
    /// The `timing:` line on stderr at the end of this stage, which is the start of the next.
    EndOf(&'static str),
}

impl Marker {
    fn matches(self, stream: Stream, line: &str) -> bool {
        match self {
            Marker::Line(text) => line.contains(text),
            Marker::EndOf(stage) => {
                stream == Stream::Stderr && line.contains(&format!(": timing: {PACKAGE}: {stage} "))
            }
        }
    }
}

struct Stage {
    name: &'static str,
    marker: Marker,
}

const BUILD_STAGES: [Stage; 8] = [
    // pip's first line: it runs (the command line echoed under DH_VERBOSE comes before it starts).
    Stage {
        name: "pip start",
        marker: Marker::Line("Looking in links: "),
    },
    Stage {
        name: "pip install",
        marker: Marker::Line("Installing collected packages"),
    },
    Stage {
        name: "relocate",
        marker: Marker::EndOf("inventory"),
    },
    Stage {
        name: "strip",
        marker: Marker::EndOf("relocate"),
    },
    // The strip command echoed under DH_VERBOSE: strip runs, writing its temporary copy.
    Stage {
        name: "strip child",
        marker: Marker::Line("\tstrip "),
    },
    // objcopy writes the debug file for the -dbgsym package.
    Stage {
        name: "debug file",
        marker: Marker::Line("objcopy --only-keep-debug"),
    },
    Stage {
        name: "outputs",
        marker: Marker::EndOf("depends"),
    },
    Stage {
        name: "commit",
        marker: Marker::EndOf("outputs"),
    },
];

/// How many of [`BUILD_STAGES`] (pip's) dh_rustvenv_finish does not have: it runs the stages from
/// relocation on.
const INSTALL_STAGES: usize = 2;

/// The stage of the runs with planted symlinks: the whole run (nothing is injected, so its marker
/// is never looked for).
const WHOLE_RUN: Stage = Stage {
    name: "whole run",
    marker: Marker::Line("\u{0}never"),
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

/// One entry of a directory listing: its kind (`f`, `d`, `l`), permission bits (0 for symlinks) and
/// the sha256 of its content (a symlink's target).
#[derive(Clone, PartialEq, Eq, Debug)]
struct Entry {
    kind: char,
    mode: u32,
    digest: String,
}

/// Every entry under a directory, by path relative to it (`.` for the directory itself).
type Listing = BTreeMap<String, Entry>;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn listing(root: &Path) -> Listing {
    let mut out = Listing::new();
    if fs::symlink_metadata(root).is_err() {
        return out;
    }
    for entry in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let relative = if relative.is_empty() {
            ".".to_owned()
        } else {
            relative
        };
        let Ok(metadata) = fs::symlink_metadata(path) else {
            continue;
        };
        let entry = if metadata.file_type().is_symlink() {
            Entry {
                kind: 'l',
                mode: 0,
                digest: fs::read_link(path)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            }
        } else if metadata.is_dir() {
            Entry {
                kind: 'd',
                mode: metadata.permissions().mode() & 0o7777,
                digest: String::new(),
            }
        } else {
            Entry {
                kind: if metadata.is_file() { 'f' } else { '?' },
                mode: metadata.permissions().mode() & 0o7777,
                digest: sha256_hex(&fs::read(path).unwrap_or_default()),
            }
        };
        out.insert(relative, entry);
    }
    out
}

/// What differs between two listings, one line per path; paths for which `ignore` holds are left out.
fn differences(expected: &Listing, actual: &Listing, ignore: &dyn Fn(&str) -> bool) -> Vec<String> {
    let paths: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        if ignore(path) {
            continue;
        }
        match (expected.get(path), actual.get(path)) {
            (Some(_), None) => out.push(format!("{path} is missing")),
            (None, Some(e)) => out.push(format!("{path} was added ({})", e.kind)),
            (Some(a), Some(b)) if a != b => {
                let mut what = Vec::new();
                if a.kind != b.kind {
                    what.push(format!("kind {} -> {}", a.kind, b.kind));
                }
                if a.mode != b.mode {
                    what.push(format!("mode {:o} -> {:o}", a.mode, b.mode));
                }
                if a.digest != b.digest {
                    what.push("content".to_owned());
                }
                out.push(format!("{path} changed: {}", what.join(", ")));
            }
            _ => {}
        }
    }
    out
}

/// The bytes a string of hex digits spells (how the snapshot writes paths).
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn is_temporary(name: &str) -> bool {
    TEMPORARY_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let output = run_unchecked(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o"])
                .arg(format!("size={size},mode=0755"))
                .arg("tmpfs")
                .arg(dir),
        );
        assert!(
            output.status.success(),
            "mounting a tmpfs for the ENOSPC cases (the fault tests run as root):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// The bytes still free.
    fn available(&self) -> u64 {
        let output = run(Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.dir));
        let text = String::from_utf8_lossy(&output.stdout);
        let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        numbers.next().unwrap() * numbers.next().unwrap()
    }

    /// Takes all but `headroom` bytes with a ballast file.
    fn leave(&self, headroom: u64) {
        let take = self.available().saturating_sub(headroom);
        if take > 0 {
            run(Command::new("fallocate")
                .arg("-l")
                .arg(take.to_string())
                .arg(self.dir.join("ballast")));
        }
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) {
        let mut file = fs::File::create(self.dir.join("filler")).unwrap();
        let big = vec![0u8; 1 << 20];
        while file.write_all(&big).is_ok() {}
        let small = [0u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.flush();
    }

    /// Removes the ballast and the filler.
    fn free(&self) {
        let _ = fs::remove_file(self.dir.join("ballast"));
        let _ = fs::remove_file(self.dir.join("filler"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Sends `signal` to `pid` (a process group when negative).
fn send_signal(pid: i32, signal: i32) {
    unsafe extern "C" {
        fn kill(pid: std::os::raw::c_int, sig: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    unsafe {
        kill(pid, signal);
    }
}

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// Processes whose command line or working directory names `needle`, as (pid, command line).
fn processes_naming(needle: &str) -> Vec<(i32, String)> {
    let own = std::process::id();
    common::processes()
        .into_iter()
        .filter(|p| p.pid != own)
        .filter(|p| p.cmdline.contains(needle) || p.cwd.to_string_lossy().contains(needle))
        .map(|p| {
            let line = format!("{} (cwd {})", p.cmdline.trim(), p.cwd.display());
            (p.pid as i32, line)
        })
        .collect()
}

/// How one run went.
struct RunOutcome {
    /// How the program ended.
    status: Option<ExitStatus>,
    /// The test had to end the run after [`RUN_LIMIT`].
    timed_out: bool,
    /// When the fault was injected, after which line, and how long the run had been going.
    injected: Option<String>,
    /// Where in the log the fault was injected.
    injected_at: Option<usize>,
    /// Every line of output, tagged `out:` or `err:`.
    log: Vec<String>,
    /// Processes naming the scratch directory left after the run ended and [`GRACE`] passed (ended
    /// by the test once recorded).
    leftovers: Vec<(i32, String)>,
    /// The output pipes stayed open after the program ended: something it started still held them.
    pipes_held: bool,
}

impl RunOutcome {
    fn succeeded(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    fn exit(&self) -> String {
        if self.timed_out {
            return format!("no end after {} s, killed by the test", RUN_LIMIT.as_secs());
        }
        match self.status {
            None => "unknown".to_owned(),
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (_, Some(signal)) => format!("signal {signal}"),
                _ => format!("{s}"),
            },
        }
    }

    /// The log from just before the fault on (its first and last lines when long), or its end.
    fn around_fault(&self) -> String {
        let Some(at) = self.injected_at else {
            return self.tail(15);
        };
        let from = at.saturating_sub(2);
        let lines = &self.log[from..];
        if lines.len() <= 24 {
            return lines.join("\n");
        }
        format!(
            "{}\n[...]\n{}",
            lines[..16].join("\n"),
            lines[lines.len() - 6..].join("\n")
        )
    }

    fn tail(&self, lines: usize) -> String {
        let start = self.log.len().saturating_sub(lines);
        self.log[start..].join("\n")
    }
}

/// Runs `command` in a process group of its own, reading its output as it comes; when a line matches
/// `trigger`'s marker, injects its fault. Returns once the program has ended and its children have
/// had [`GRACE`] to go.
fn run_with_fault(
    mut command: Command,
    trigger: Option<(Marker, Fault)>,
    tmpfs: &Tmpfs,
    needle: &str,
) -> RunOutcome {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
    let pid = child.id() as i32;
    let (sender, receiver) = mpsc::channel::<(Stream, String)>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for (stream, pipe) in [
        (
            Stream::Stdout,
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
        ),
        (Stream::Stderr, Box::new(stderr)),
    ] {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                        if sender.send((stream, text)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(sender);
    let mut outcome = RunOutcome {
        status: None,
        timed_out: false,
        injected: None,
        injected_at: None,
        log: Vec::new(),
        leftovers: Vec::new(),
        pipes_held: false,
    };
    let mut ended_at: Option<Instant> = None;
    let mut pipes_open = true;
    loop {
        if outcome.status.is_none() {
            outcome.status = child.try_wait().unwrap();
            if outcome.status.is_some() {
                ended_at = Some(Instant::now());
            }
        }
        if let Some(ended) = ended_at {
            if !pipes_open {
                outcome.log.push(format!(
                    "test: the program ended at {:.3} s, its output pipes closed {} ms later",
                    (ended - started).as_secs_f64(),
                    ended.elapsed().as_millis()
                ));
                break;
            }
            if ended.elapsed() > GRACE {
                outcome.log.push(format!(
                    "test: the program ended at {:.3} s, its output pipes still open {} ms later",
                    (ended - started).as_secs_f64(),
                    ended.elapsed().as_millis()
                ));
                outcome.pipes_held = true;
                break;
            }
        } else if started.elapsed() > RUN_LIMIT {
            send_signal(-pid, SIGKILL);
            outcome.status = child.wait().ok();
            outcome.timed_out = true;
            outcome.log.push(format!(
                "test: no end after {} s; process group killed",
                RUN_LIMIT.as_secs()
            ));
            ended_at = Some(Instant::now());
            continue;
        }
        match receiver.recv_timeout(Duration::from_millis(20)) {
            Ok((stream, line)) => {
                let fire = outcome.injected.is_none()
                    && trigger.is_some_and(|(marker, _)| marker.matches(stream, &line));
                outcome.log.push(format!(
                    "{}: {line}",
                    if stream == Stream::Stdout {
                        "out"
                    } else {
                        "err"
                    }
                ));
                if fire {
                    let (_, fault) = trigger.unwrap();
                    match fault {
                        Fault::KillProcess => send_signal(pid, SIGKILL),
                        Fault::KillGroup => send_signal(-pid, SIGKILL),
                        Fault::Term => send_signal(pid, SIGTERM),
                        Fault::NoSpace => tmpfs.fill(),
                        Fault::Planted => {}
                    }
                    let when = format!(
                        "{} at {:.3} s, after {line:?}",
                        fault.name(),
                        started.elapsed().as_secs_f64()
                    );
                    outcome.injected_at = Some(outcome.log.len());
                    outcome.log.push(format!("test: {when}"));
                    outcome.injected = Some(when);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => pipes_open = false,
        }
    }
    // Reaped already (try_wait keeps the status); waiting again returns it.
    let status = child.wait().ok();
    outcome.status = outcome.status.or(status);
    // What the run started has had its grace period since the run ended.
    if let Some(ended) = ended_at {
        std::thread::sleep(GRACE.saturating_sub(ended.elapsed()));
    }
    outcome.leftovers = processes_naming(needle);
    for (pid, _) in &outcome.leftovers {
        send_signal(*pid, SIGKILL);
    }
    if !outcome.leftovers.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
    }
    outcome
}

/// The source package, prepared once, and what a clean run of each program makes of it.
struct Fixture {
    /// The scratch directory: nothing outside it is ours, and nothing in the venv may name it.
    scratch: PathBuf,
    tmpfs: Tmpfs,
    /// Where every run happens: the source package, on the tmpfs.
    work: PathBuf,
    /// Outside the package and source trees: files hard-linked into the venv, symlink targets.
    sentinel: PathBuf,
    /// The source package after dh's sequence up to dh_rustvenv.
    fresh: PathBuf,
    /// The source package after dh_rustvenv and dh's sequence up to dh_rustvenv_finish.
    built: PathBuf,
    /// An unstripped shared object, compiled by the test.
    extra_elf: PathBuf,
    /// The venv's path in the ELF file of the fastsum wheel, relative to the venv.
    speedups: String,
    /// A clean dh_rustvenv: the venv and the outputs.
    build_done: (Listing, Listing),
    /// A clean dh_rustvenv_finish after the files were added: the venv and the outputs.
    finish_done: (Listing, Listing),
    /// The short text outputs of a clean dh_rustvenv and of a clean dh_rustvenv_finish, for messages.
    done_texts: [BTreeMap<String, String>; 2],
}

impl Fixture {
    fn staging(&self) -> PathBuf {
        self.work
            .join(format!("debian/{PACKAGE}"))
            .join(&FINAL_ROOT[1..])
    }

    fn needle(&self) -> String {
        self.scratch.to_string_lossy().into_owned()
    }

    /// The command a rerun runs: what override_dh_rustvenv runs, or what dh runs for the late stage.
    fn command(&self, program: Program) -> Command {
        let mut command = Command::new(common::tool_dir().join(program.name()));
        match program {
            Program::Build => {
                command.args(self.build_args());
            }
            Program::Finish => {
                command.arg("-O--buildsystem=rustvenv");
            }
        }
        self.tool_env(&mut command);
        // pip's output, the markers of its stages, comes line by line rather than at its end.
        command
            .env("DH_VERBOSE", "1")
            .env("DH_RUSTVENV_TIMINGS", "1")
            .env("PYTHONUNBUFFERED", "1");
        command
    }

    fn build_args(&self) -> Vec<String> {
        BUILD_ARGS
            .replace("$(CURDIR)", &self.work.to_string_lossy())
            .split(' ')
            .map(str::to_owned)
            .collect()
    }

    fn tool_env(&self, command: &mut Command) {
        with_tool_env(command);
        command
            .current_dir(&self.work)
            .env_remove("PIP_FIND_LINKS")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_NO_INDEX", "1");
    }

    /// Runs one of dh's commands (`dh_prep -O--buildsystem=rustvenv`) in the source package.
    fn dh_command(&self, words: &[String]) {
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]);
        self.tool_env(&mut command);
        run(&mut command);
    }

    /// Replaces the source package by a copy of `prepared` and sets up what `program` starts from:
    /// the sentinel directory, the hard link into it, the files added after dh_rustvenv, and symlinks
    /// at the temporary names of the outputs (with `plant_in_venv`, of the venv's files too).
    fn set_up(&self, program: Program, plant_in_venv: bool) {
        let _ = fs::remove_dir_all(&self.work);
        let prepared = match program {
            Program::Build => &self.fresh,
            Program::Finish => &self.built,
        };
        run(Command::new("cp").arg("-a").arg(prepared).arg(&self.work));
        let _ = fs::remove_dir_all(&self.sentinel);
        fs::create_dir_all(&self.sentinel).unwrap();
        let staging = self.staging();
        let staging_text = staging.to_string_lossy();
        common::write(
            &self.sentinel,
            "linked.conf",
            &format!("# put here by an override target\nvenv = {staging_text}\n"),
            0o640,
        );
        common::write(
            &self.sentinel,
            "where.txt",
            &format!("data = {staging_text}/share/added/data\n"),
            0o640,
        );
        for target in ["planted-output", "planted-venv", "planted-strip"] {
            common::write(&self.sentinel, target, "the sentinel's own\n", 0o644);
        }
        match program {
            Program::Build => {
                fs::hard_link(
                    self.sentinel.join("linked.conf"),
                    staging.join("etc/linked.conf"),
                )
                .unwrap();
            }
            Program::Finish => {
                common::write(
                    &staging,
                    "bin/added-tool",
                    &format!(
                        "#!{staging_text}/bin/python\nimport fastsum\nprint('added-tool', fastsum.add(1, 2))\n"
                    ),
                    0o755,
                );
                fs::create_dir_all(staging.join("share/added")).unwrap();
                fs::hard_link(
                    self.sentinel.join("where.txt"),
                    staging.join("share/added/where.txt"),
                )
                .unwrap();
                fs::create_dir_all(staging.join("lib/added")).unwrap();
                fs::copy(&self.extra_elf, staging.join("lib/added/_extra.so")).unwrap();
            }
        }
        for planted in self.planted_outputs() {
            plant(&planted, &self.sentinel.join("planted-output"));
        }
        if plant_in_venv {
            for (relative, target) in self.planted_in_venv(program) {
                plant(&staging.join(relative), &self.sentinel.join(target));
            }
        }
    }

    /// Where symlinks wait at the temporary names of the outputs (those whose directory exists).
    fn planted_outputs(&self) -> Vec<PathBuf> {
        [
            format!("debian/{PACKAGE}.substvars.dh-rustvenv-new"),
            format!("debian/{PACKAGE}.postinst.debhelper.dh-rustvenv-new"),
            format!("debian/.debhelper/rustvenv/{PACKAGE}/state.json.dh-rustvenv-new"),
            format!("debian/{PACKAGE}/usr/share/lintian/overrides/{PACKAGE}.dh-rustvenv-new"),
        ]
        .into_iter()
        .map(|p| self.work.join(p))
        .filter(|p| p.parent().unwrap().is_dir())
        .collect()
    }

    /// The symlinks planted in the venv for [`Fault::Planted`], relative to it, with their target in
    /// the sentinel directory.
    fn planted_in_venv(&self, program: Program) -> Vec<(String, &'static str)> {
        match program {
            Program::Build => vec![
                ("etc/linked.conf.dh-rustvenv-new".to_owned(), "planted-venv"),
                (
                    format!("{}.dh-rustvenv-strip", self.speedups),
                    "planted-strip",
                ),
            ],
            Program::Finish => vec![
                ("bin/added-tool.dh-rustvenv-new".to_owned(), "planted-venv"),
                (
                    "lib/added/_extra.so.dh-rustvenv-strip".to_owned(),
                    "planted-strip",
                ),
            ],
        }
    }

    /// Whether `path` (under the source package) is a symlink the test planted, still pointing into
    /// the sentinel directory.
    fn is_planted(&self, path: &Path) -> bool {
        fs::read_link(path).is_ok_and(|t| t.starts_with(&self.sentinel))
    }

    /// The outputs: substvars, script snippets, lintian overrides, debug files for the -dbgsym
    /// package, and the state (the snapshot without its times and inode numbers), by path relative to
    /// the source package.
    fn outputs(&self) -> Listing {
        let mut out = Listing::new();
        let debian = self.work.join("debian");
        for entry in fs::read_dir(&debian).unwrap().filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == format!("{PACKAGE}.substvars")
                || (name.starts_with(&format!("{PACKAGE}.")) && name.ends_with(".debhelper"));
            if ours {
                insert_file(&mut out, &self.work, &entry.path());
            }
        }
        for dir in [
            format!("debian/{PACKAGE}/usr/share/lintian"),
            format!("debian/.debhelper/{PACKAGE}"),
        ] {
            for (relative, entry) in listing(&self.work.join(&dir)) {
                if entry.kind != 'd' && !is_temporary(&relative) {
                    out.insert(format!("{dir}/{relative}"), entry);
                }
            }
        }
        let state = format!("debian/.debhelper/rustvenv/{PACKAGE}");
        insert_file(
            &mut out,
            &self.work,
            &self.work.join(&state).join("state.json"),
        );
        if let Ok(text) = fs::read_to_string(self.work.join(&state).join("snapshot")) {
            // Entries at temporary names are left out: the symlinks a case plants are kept in the
            // venv as everything else found there, and a temporary of ours is reported on its own.
            let kept: String = text
                .lines()
                .filter(|l| {
                    !is_temporary(&String::from_utf8_lossy(&unhex(
                        l.split('\t').next().unwrap_or_default(),
                    )))
                })
                .map(|l| l.split('\t').take(3).collect::<Vec<_>>().join("\t") + "\n")
                .collect();
            out.insert(
                format!("{state}/snapshot (paths, kinds, sizes)"),
                Entry {
                    kind: 'f',
                    mode: 0,
                    digest: sha256_hex(kept.as_bytes()),
                },
            );
        }
        out
    }

    /// The outputs that are short text (substvars, snippets, build-ids), by path as in
    /// [`Fixture::outputs`].
    fn output_texts(&self) -> BTreeMap<String, String> {
        self.outputs()
            .keys()
            .filter_map(|name| {
                let text = fs::read_to_string(self.work.join(name)).ok()?;
                (text.len() <= 400).then(|| (name.clone(), text))
            })
            .collect()
    }

    /// Temporary files of ours anywhere in debian/ (planted symlinks left alone are not ours).
    fn temporaries(&self) -> Vec<String> {
        walkdir::WalkDir::new(self.work.join("debian"))
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| is_temporary(&e.file_name().to_string_lossy()))
            .filter(|e| !self.is_planted(e.path()))
            .map(|e| {
                e.path()
                    .strip_prefix(&self.work)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    /// Runs the venv's console script (and, after dh_rustvenv_finish, the added script) with the
    /// staged interpreter; a description of what went wrong.
    fn check_programs(&self, program: Program) -> Vec<String> {
        let staging = self.staging();
        let mut scripts = vec![("bin/fixtureapp", "hello, fixtureapp")];
        if program == Program::Finish {
            scripts.push(("bin/added-tool", "added-tool 3"));
        }
        let mut problems = Vec::new();
        for (script, expected) in scripts {
            let mut command = Command::new(staging.join("bin/python"));
            command
                .arg(staging.join(script))
                .current_dir("/")
                .env("PYTHONDONTWRITEBYTECODE", "1");
            match command.output() {
                Err(e) => problems.push(format!("{script} does not run: {e}")),
                Ok(output)
                    if !output.status.success()
                        || !String::from_utf8_lossy(&output.stdout).contains(expected) =>
                {
                    problems.push(format!(
                        "{script} does not run:\n{}",
                        describe(&command, &output)
                    ))
                }
                Ok(_) => {}
            }
        }
        problems
    }
}

fn insert_file(out: &mut Listing, base: &Path, path: &Path) {
    if let Ok(metadata) = fs::symlink_metadata(path) {
        out.insert(
            path.strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            Entry {
                kind: if metadata.file_type().is_symlink() {
                    'l'
                } else {
                    'f'
                },
                mode: metadata.permissions().mode() & 0o7777,
                digest: sha256_hex(&fs::read(path).unwrap_or_default()),
            },
        );
    }
}

/// A symlink at `link` to `target`, in place of whatever is there.
fn plant(link: &Path, target: &Path) {
    let _ = fs::remove_file(link);
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// What override_dh_rustvenv runs: pinned wheels from the vendored wheelhouse, the source
/// package's own project left out.
const BUILD_ARGS: &str =
    "--skip-install --extra-pip-arg=--no-index --extra-pip-arg=--find-links=$(CURDIR)/wheelhouse";

/// Writes the source package in `work`, with the wheels of `wheels`.
fn write_source_package(work: &Path, wheels: &Path) {
    fs::create_dir_all(work.join("wheelhouse")).unwrap();
    for wheel in fs::read_dir(wheels).unwrap().filter_map(|e| e.ok()) {
        fs::copy(
            wheel.path(),
            work.join("wheelhouse").join(wheel.file_name()),
        )
        .unwrap();
    }
    let write = |relative: &str, text: &str| common::write(work, relative, text, 0o644);
    write(
        "requirements.txt",
        "fixtureapp==1.0\ngreetlib==1.0\nfastsum==1.0\n",
    );
    write(
        "pre.conf",
        "# the site's settings, installed by dh_install\nsetting = 1\n",
    );
    write("debian/source/format", "3.0 (native)\n");
    write(
        "debian/changelog",
        &format!(
            "{PACKAGE} (1.0) unstable; urgency=medium\n\n  * Test fixture.\n\n -- dh-rustvenv tests <tests@example.org>  Sat, 21 Nov 2026 00:00:00 +0000\n"
        ),
    );
    write(
        "debian/control",
        &format!(
            "Source: {PACKAGE}\nSection: python\nPriority: optional\nMaintainer: dh-rustvenv tests <tests@example.org>\n\
             Build-Depends: debhelper-compat (= 13), python3-venv\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
             Package: {PACKAGE}\nArchitecture: any\nDepends: ${{rustvenv:Depends}}, ${{misc:Depends}}\n\
             Description: dh-rustvenv fault-injection fixture\n A venv with fixtureapp, built by dh-rustvenv's tests.\n"
        ),
    );
    write(
        &format!("debian/{PACKAGE}.install"),
        &format!("pre.conf {}/etc/\n", &FINAL_ROOT[1..]),
    );
    common::write(
        work,
        "debian/rules",
        &format!(
            "#!/usr/bin/make -f\n\n%:\n\tdh $@ --with rustvenv\n\noverride_dh_rustvenv:\n\tdh_rustvenv {BUILD_ARGS}\n"
        ),
        0o755,
    );
}

/// Builds the wheels of fixtureapp, greetlib and fastsum (its C extension compiled here) into
/// `dir/wheels`, from copies of the projects in `dir`; returns the wheels' directory.
fn build_wheels(dir: &Path) -> PathBuf {
    let wheels = dir.join("wheels");
    let mut command = Command::new("/usr/bin/python3");
    command.args([
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--no-build-isolation",
        "-w",
    ]);
    command.arg(&wheels);
    for project in ["fixtureapp", "greetlib", "fastsum"] {
        let copy = dir.join("projects").join(project);
        fs::create_dir_all(copy.parent().unwrap()).unwrap();
        run(Command::new("cp")
            .arg("-a")
            .arg(common::repo().join("tests/fixtures").join(project))
            .arg(&copy));
        command.arg(copy);
    }
    run(command
        .env_remove("PIP_FIND_LINKS")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .current_dir(dir));
    wheels
}

/// dh's sequence for `binary`, as `dh binary --with rustvenv --no-act` lists it: the commands
/// before dh_rustvenv, and those between it and dh_rustvenv_finish.
fn sequence(
    fixture_work: &Path,
    tool_env: impl Fn(&mut Command),
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut command = Command::new("dh");
    command.args(["binary", "--with", "rustvenv", "--no-act"]);
    tool_env(&mut command);
    command.current_dir(fixture_work);
    let output = run(&mut command);
    let lines: Vec<Vec<String>> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect();
    let at = |name: &str| {
        lines
            .iter()
            .position(|w| w.iter().any(|x| x.ends_with(name)))
            .unwrap_or_else(|| panic!("dh's sequence has no {name}: {lines:?}"))
    };
    let build = at("dh_rustvenv");
    let finish = at("dh_rustvenv_finish");
    let dh_only = |w: &&Vec<String>| w[0].starts_with("dh_");
    (
        lines[..build].iter().filter(dh_only).cloned().collect(),
        lines[build + 1..finish]
            .iter()
            .filter(dh_only)
            .cloned()
            .collect(),
    )
}

/// Prepares the fixture: the wheels, the source package, dh's sequence up to dh_rustvenv, a clean
/// dh_rustvenv, dh's sequence up to dh_rustvenv_finish, and a clean dh_rustvenv_finish.
fn prepare(scratch: &Path) -> Fixture {
    let tmpfs = Tmpfs::mount(&scratch.join("fs"), "64m");
    let wheels = build_wheels(scratch);
    let extra_elf = scratch.join("extra/_extra.so");
    fs::create_dir_all(extra_elf.parent().unwrap()).unwrap();
    // A shared object of its own (its own build-id, so that dh_rustvenv_finish writes a debug file
    // for it), with debug information to strip.
    let source = extra_elf.with_file_name("extra.c");
    fs::write(&source, "int rvfault_extra(void) { return 42; }\n").unwrap();
    run(Command::new("gcc")
        .args(["-shared", "-fPIC", "-g", "-O1", "-o"])
        .arg(&extra_elf)
        .arg(&source));
    let work = tmpfs.dir.join(format!("{PACKAGE}-1.0"));
    write_source_package(&work, &wheels);
    let mut fixture = Fixture {
        scratch: scratch.to_path_buf(),
        work: work.clone(),
        // On the tmpfs, as the venv is: a hard link cannot cross file systems.
        sentinel: tmpfs.dir.join("sentinel"),
        fresh: scratch.join("prepared/fresh"),
        built: scratch.join("prepared/built"),
        extra_elf,
        speedups: String::new(),
        build_done: (Listing::new(), Listing::new()),
        finish_done: (Listing::new(), Listing::new()),
        done_texts: Default::default(),
        tmpfs,
    };
    let (before_build, before_finish) = sequence(&work, |c| fixture.tool_env(c));
    for words in &before_build {
        fixture.dh_command(words);
    }
    assert!(
        fixture.staging().join("etc/pre.conf").is_file(),
        "dh_install did not put pre.conf in the venv's directory"
    );
    fs::create_dir_all(fixture.fresh.parent().unwrap()).unwrap();
    run(Command::new("cp").arg("-a").arg(&work).arg(&fixture.fresh));

    // A clean dh_rustvenv: what every case that builds must end with.
    fixture.set_up(Program::Build, false);
    let sentinel = listing(&fixture.sentinel);
    let mut command = fixture.command(Program::Build);
    let output = run(&mut command);
    assert_eq!(
        listing(&fixture.sentinel),
        sentinel,
        "a clean dh_rustvenv changed the sentinel directory"
    );
    fixture.build_done = (listing(&fixture.staging()), fixture.outputs());
    fixture.done_texts[0] = fixture.output_texts();
    fixture.speedups = fixture
        .build_done
        .0
        .keys()
        .find(|p| p.contains("/fastsum/_speedups") && p.ends_with(".so"))
        .unwrap_or_else(|| {
            panic!(
                "no compiled extension in the venv\n{}",
                describe(&command, &output)
            )
        })
        .clone();
    let problems = fixture.check_programs(Program::Build);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let leaked = files_naming(&fixture.staging(), &fixture.needle());
    assert!(leaked.is_empty(), "a clean dh_rustvenv leaked: {leaked:?}");

    // dh's sequence up to dh_rustvenv_finish, then its clean run.
    for words in &before_finish {
        fixture.dh_command(words);
    }
    for planted in fixture.planted_outputs() {
        if fixture.is_planted(&planted) {
            fs::remove_file(planted).unwrap();
        }
    }
    run(Command::new("cp").arg("-a").arg(&work).arg(&fixture.built));
    fixture.set_up(Program::Finish, false);
    let sentinel = listing(&fixture.sentinel);
    run(&mut fixture.command(Program::Finish));
    assert_eq!(
        listing(&fixture.sentinel),
        sentinel,
        "a clean dh_rustvenv_finish changed the sentinel directory"
    );
    fixture.finish_done = (listing(&fixture.staging()), fixture.outputs());
    fixture.done_texts[1] = fixture.output_texts();
    let problems = fixture.check_programs(Program::Finish);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    fixture
}

/// One case's results, for the table and the failure message.
struct CaseResult {
    program: Program,
    fault: Fault,
    stage: &'static str,
    injected: bool,
    recovered: bool,
    exit: String,
    lost: BTreeSet<String>,
    outside: BTreeSet<String>,
    problems: Vec<String>,
    /// The faulted run's output around the fault, shown with the problems.
    log: String,
}

impl CaseResult {
    fn label(&self) -> String {
        format!(
            "{} / {} / {}",
            self.program.name(),
            self.fault.name(),
            self.stage
        )
    }
}

/// Runs one case: set-up, the faulted run, its checks, the rerun, its checks.
fn run_case(fixture: &Fixture, program: Program, fault: Fault, stage: &Stage) -> CaseResult {
    fixture.set_up(program, fault == Fault::Planted);
    let staging = fixture.staging();
    let planted_in_venv: BTreeSet<String> = if fault == Fault::Planted {
        fixture
            .planted_in_venv(program)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    } else {
        BTreeSet::new()
    };
    // A planted symlink may be removed, or left as it is; nothing else.
    let planted_path = |path: &str| planted_in_venv.contains(path);
    let before = listing(&staging);
    let outputs_before = fixture.outputs();
    let sentinel_before = listing(&fixture.sentinel);
    let (done, outputs_done) = match program {
        Program::Build => &fixture.build_done,
        Program::Finish => &fixture.finish_done,
    };
    let mut result = CaseResult {
        program,
        fault,
        stage: stage.name,
        injected: false,
        recovered: false,
        exit: String::new(),
        lost: BTreeSet::new(),
        outside: BTreeSet::new(),
        problems: Vec::new(),
        log: String::new(),
    };
    if fault == Fault::NoSpace {
        fixture.tmpfs.leave(HEADROOM);
    }
    let trigger = (fault != Fault::Planted).then_some((stage.marker, fault));
    let faulted = run_with_fault(
        fixture.command(program),
        trigger,
        &fixture.tmpfs,
        &fixture.needle(),
    );
    fixture.tmpfs.free();
    result.exit = faulted.exit();
    result.injected = faulted.injected.is_some() || fault == Fault::Planted;
    let context = |outcome: &RunOutcome| {
        outcome
            .injected
            .clone()
            .unwrap_or_else(|| "no fault injected".to_owned())
    };
    if !result.injected {
        result.problems.push(format!(
            "the marker {:?} never appeared; the run ended with {}:\n{}",
            stage.marker,
            faulted.exit(),
            faulted.tail(12)
        ));
    }
    if fault == Fault::Planted && !faulted.succeeded() {
        result.problems.push(format!(
            "the run with symlinks planted at temporary names failed ({}):\n{}",
            faulted.exit(),
            faulted.tail(12)
        ));
    }

    // (a) The venv's directory: as before the run, or complete when the run still succeeded.
    let mut committed_then_failed = false;
    let after = listing(&staging);
    if faulted.succeeded() {
        let ignore_planted =
            |p: &str| planted_path(p) && (!after.contains_key(p) || after.get(p) == before.get(p));
        let wrong = differences(done, &after, &ignore_planted);
        if !wrong.is_empty() {
            result.problems.push(format!(
                "(a) the run succeeded ({}) but the venv is not what a clean run makes: {}",
                context(&faulted),
                wrong.join("; ")
            ));
        }
    } else if fault.is_kill() {
        // The next run rolls a killed one back; until then every earlier file must be somewhere in
        // the source package (in the venv or moved aside by the run), as it was or as the stages
        // leave it (relocated, stripped).
        let kept: BTreeSet<String> = listing(&fixture.work.join("debian"))
            .into_values()
            .filter(|e| e.kind == 'f')
            .map(|e| e.digest)
            .collect();
        for (path, entry) in &before {
            let processed = done.get(path).map(|e| &e.digest);
            if entry.kind == 'f'
                && !planted_path(path)
                && !kept.contains(&entry.digest)
                && !processed.is_some_and(|d| kept.contains(d))
            {
                result.lost.insert(path.clone());
                result.problems.push(format!(
                    "(a) after the kill no file in debian/ holds the content {path} had ({})",
                    context(&faulted)
                ));
            }
        }
    } else {
        let ignore_planted =
            |p: &str| planted_path(p) && (!after.contains_key(p) || after.get(p) == before.get(p));
        let wrong = differences(&before, &after, &ignore_planted);
        for line in &wrong {
            let path = line.split(' ').next().unwrap_or_default();
            if before.get(path).is_some_and(|e| e.kind == 'f')
                && after.get(path).is_none_or(|e| {
                    e.digest != before[path].digest
                        && done.get(path).is_none_or(|d| d.digest != e.digest)
                })
            {
                result.lost.insert(path.to_owned());
            }
        }
        if !wrong.is_empty()
            && differences(done, &after, &ignore_planted).is_empty()
            && fixture.outputs() == *outputs_done
        {
            committed_then_failed = true;
            // A signal that arrives once everything is committed is reported as such, with the
            // signal's exit status (README, "Errors"): the venv and the outputs are complete, and
            // the run says the signal came after its last package.
            let said_so = faulted
                .log
                .iter()
                .any(|l| l.contains("interrupted after the last package was done"));
            if !said_so {
                result.problems.push(format!(
                "(a)(b) the run committed everything (the venv and every output are complete), then ended with {}: the fault came after the commit, yet the run reports a failure ({})",
                faulted.exit(),
                context(&faulted)
            ));
            }
        } else if !wrong.is_empty() {
            result.problems.push(format!(
                "(a) the run failed ({}) and the venv is not as before it: {}",
                context(&faulted),
                wrong.join("; ")
            ));
        }
    }

    // (b) Outputs whole: each as before or complete, all of them one or the other unless a kill left
    // the commit to the next run; no temporary file of ours.
    let outputs_after = fixture.outputs();
    let names: BTreeSet<&String> = outputs_before
        .keys()
        .chain(outputs_after.keys())
        .chain(outputs_done.keys())
        .collect();
    let (mut as_before, mut complete, mut torn) = (Vec::new(), Vec::new(), Vec::new());
    for name in names {
        let now = outputs_after.get(name);
        let is_before = now == outputs_before.get(name);
        let is_complete = now == outputs_done.get(name);
        if !is_before && !is_complete {
            torn.push(name.clone());
        } else if is_before && !is_complete {
            as_before.push(name.clone());
        } else if is_complete && !is_before {
            complete.push(name.clone());
        }
    }
    if !torn.is_empty() {
        result.problems.push(format!(
            "(b) outputs neither as before nor complete: {} ({})",
            torn.join(", "),
            context(&faulted)
        ));
    }
    let expect_all = if faulted.succeeded() || committed_then_failed {
        Some(("complete", &as_before))
    } else if fault.is_kill() {
        None
    } else {
        Some(("as before", &complete))
    };
    if let Some((wanted, odd)) = expect_all.filter(|(_, odd)| !odd.is_empty()) {
        result.problems.push(
            format!(
                "(b) the run ended with {} so every output should be {wanted}, but these are not: {} ({})",
                faulted.exit(),
                odd.join(", "),
                context(&faulted)
            ),
        );
    }
    let temporaries = fixture.temporaries();
    if !temporaries.is_empty() && !fault.is_kill() {
        result.problems.push(format!(
            "(b) temporary files left: {} ({})",
            temporaries.join(", "),
            context(&faulted)
        ));
    }

    // (c) Nothing outside the package and source trees changed.
    let sentinel_after = listing(&fixture.sentinel);
    let outside = differences(&sentinel_before, &sentinel_after, &|_| false);
    for line in &outside {
        result
            .outside
            .insert(line.split(' ').next().unwrap_or_default().to_owned());
    }
    if !outside.is_empty() {
        result.problems.push(
            format!(
                "(c) the faulted run wrote outside the package tree, in the sentinel directory: {} ({})",
                outside.join("; "),
                context(&faulted)
            ),
        );
    }

    // (d) No process of the run left.
    if !faulted.leftovers.is_empty() || faulted.pipes_held {
        result.problems.push(
            format!(
                "(d) {} ms after the run ended, processes naming the scratch directory were left: {:?}{} ({})",
                GRACE.as_millis(),
                faulted.leftovers,
                if faulted.pipes_held {
                    "; the run's output pipes were still held open"
                } else {
                    ""
                },
                context(&faulted)
            ),
        );
    }

    // (a) and (b) for a killed dh_rustvenv, once rolled back: dh_rustvenv_finish rolls a killed run
    // of either program back (or completes it, when it was killed while committing) before it looks
    // for a venv to finish, and finds none in a tree dh_rustvenv has not built. It runs on the
    // killed tree, which is then put back as the kill left it (copied aside with the sentinel
    // directory, keeping the hard link between them) for the rerun of dh_rustvenv itself.
    if program == Program::Build && fault.is_kill() && faulted.injected.is_some() {
        check_roll_back(
            fixture,
            &before,
            &outputs_before,
            &sentinel_before,
            &mut result,
        );
    }

    // (e) The rerun, without cleaning, succeeds and leaves a complete venv.
    let rerun = run_with_fault(
        fixture.command(program),
        None,
        &fixture.tmpfs,
        &fixture.needle(),
    );
    let after_rerun = listing(&staging);
    if !rerun.succeeded() {
        result.problems.push(format!(
            "(e) the rerun failed ({}) after the fault ({}):\n{}",
            rerun.exit(),
            faulted.injected.as_deref().unwrap_or("none"),
            rerun.tail(15)
        ));
    }
    for (path, entry) in &before {
        if entry.kind != 'f' || planted_path(path) {
            continue;
        }
        // The earlier file, as a clean run leaves it (relocated, stripped).
        let expected = done.get(path).unwrap_or(entry);
        match after_rerun.get(path) {
            None => {
                result.lost.insert(path.clone());
                result.problems.push(format!(
                    "(e) after the rerun {path}, in the venv before the faulted run, is gone"
                ));
            }
            Some(now) if now.digest != expected.digest || now.mode != expected.mode => {
                // Content as it was (a failed rerun left it unprocessed) is not lost; anything else
                // is.
                if now.digest != expected.digest && now.digest != entry.digest {
                    result.lost.insert(path.clone());
                }
                result.problems.push(
                    format!(
                        "(e) after the rerun {path} does not hold what a clean run leaves there (mode {:o}, expected {:o}; content {})",
                        now.mode,
                        expected.mode,
                        if now.digest == expected.digest {
                            "as a clean run leaves it"
                        } else if now.digest == entry.digest {
                            "as before the faulted run, not processed"
                        } else {
                            "neither as before nor as a clean run leaves it"
                        }
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if rerun.succeeded() {
        let ignore_planted = |p: &str| {
            planted_path(p) && (!after_rerun.contains_key(p) || after_rerun.get(p) == before.get(p))
        };
        let wrong = differences(done, &after_rerun, &ignore_planted);
        if !wrong.is_empty() {
            result.problems.push(format!(
                "(e) after the rerun the venv is not what a clean run makes: {}",
                wrong.join("; ")
            ));
        }
        let outputs = differences(outputs_done, &fixture.outputs(), &|_| false);
        if !outputs.is_empty() {
            let texts = &fixture.done_texts[usize::from(program == Program::Finish)];
            let now = fixture.output_texts();
            let shown: Vec<String> = outputs
                .iter()
                .filter_map(|line| {
                    let name = line.split(' ').next()?;
                    Some(format!(
                        "{name} holds {:?} where a clean run writes {:?}",
                        now.get(name)?,
                        texts.get(name)?
                    ))
                })
                .collect();
            result.problems.push(format!(
                "(e) after the rerun the outputs are not what a clean run writes: {}{}",
                outputs.join("; "),
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", shown.join("; "))
                }
            ));
        }
    }
    let programs = fixture.check_programs(program);
    let leaked: Vec<PathBuf> = files_naming(&staging, &fixture.needle());
    if !leaked.is_empty() {
        result.problems.push(format!(
            "(e) after the rerun these name the scratch directory: {leaked:?}"
        ));
    }
    for text in &programs {
        result.problems.push(format!("(e) after the rerun {text}"));
    }
    let temporaries = fixture.temporaries();
    if !temporaries.is_empty() {
        result.problems.push(format!(
            "(e) after the rerun temporary files are left: {}",
            temporaries.join(", ")
        ));
    }
    let outside = differences(&sentinel_before, &listing(&fixture.sentinel), &|_| false);
    for line in &outside {
        result
            .outside
            .insert(line.split(' ').next().unwrap_or_default().to_owned());
    }
    if !outside.is_empty() {
        result.problems.push(format!(
            "(c) after the rerun the sentinel directory changed: {}",
            outside.join("; ")
        ));
    }
    if !rerun.leftovers.is_empty() || rerun.pipes_held {
        result.problems.push(format!(
            "(d) the rerun left processes: {:?}",
            rerun.leftovers
        ));
    }
    if !result.problems.is_empty() || std::env::var_os("DH_RUSTVENV_FAULT_ONLY").is_some() {
        result.log = faulted.around_fault();
    }
    result.recovered = rerun.succeeded()
        && programs.is_empty()
        && leaked.is_empty()
        && !result.problems.iter().any(|p| p.starts_with("(e)"));
    result
}

/// Rolls a killed dh_rustvenv back with dh_rustvenv_finish, checks that the venv directory and the
/// outputs are as before the killed run (or complete, when it was rolled forward), then puts the
/// killed tree back.
fn check_roll_back(
    fixture: &Fixture,
    before: &Listing,
    outputs_before: &Listing,
    sentinel_before: &Listing,
    result: &mut CaseResult,
) {
    let killed = fixture.tmpfs.dir.join("killed");
    let _ = fs::remove_dir_all(&killed);
    fs::create_dir(&killed).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(&fixture.work)
        .arg(&fixture.sentinel)
        .arg(&killed));
    let recovery = run_with_fault(
        fixture.command(Program::Finish),
        None,
        &fixture.tmpfs,
        &fixture.needle(),
    );
    let (done, outputs_done) = &fixture.build_done;
    let after = listing(&fixture.staging());
    let outputs = fixture.outputs();
    if !recovery.succeeded() {
        result.problems.push(format!(
            "(a) dh_rustvenv_finish, run to roll the killed dh_rustvenv back, failed ({}):\n{}",
            recovery.exit(),
            recovery.tail(10)
        ));
    } else if after == *before {
        let changed = differences(outputs_before, &outputs, &|_| false);
        if !changed.is_empty() {
            result.problems.push(format!(
                "(b) the killed run was rolled back but not all of its outputs: {}",
                changed.join("; ")
            ));
        }
    } else if after == *done {
        let missing = differences(outputs_done, &outputs, &|_| false);
        if !missing.is_empty() {
            result.problems.push(format!(
                "(b) the killed run was completed (the venv is complete) but not all of its outputs are: {}",
                missing.join("; ")
            ));
        }
    } else {
        for line in differences(before, &after, &|_| false) {
            let path = line.split(' ').next().unwrap_or_default();
            if before.get(path).is_some_and(|e| e.kind == 'f')
                && after.get(path).is_none_or(|e| {
                    e.digest != before[path].digest
                        && done.get(path).is_none_or(|d| d.digest != e.digest)
                })
            {
                result.lost.insert(path.to_owned());
            }
        }
        result.problems.push(format!(
            "(a) after the next run rolled the killed dh_rustvenv back, the venv directory is neither as before it ({}) nor complete ({})",
            differences(before, &after, &|_| false).join("; "),
            differences(done, &after, &|_| false).join("; ")
        ));
    }
    let temporaries = fixture.temporaries();
    if !temporaries.is_empty() {
        result.problems.push(format!(
            "(b) after the killed run was rolled back, temporary files are left: {}",
            temporaries.join(", ")
        ));
    }
    let outside = differences(sentinel_before, &listing(&fixture.sentinel), &|_| false);
    for line in &outside {
        result
            .outside
            .insert(line.split(' ').next().unwrap_or_default().to_owned());
    }
    if !outside.is_empty() {
        result.problems.push(format!(
            "(c) rolling the killed run back changed the sentinel directory: {}",
            outside.join("; ")
        ));
    }
    let _ = fs::remove_dir_all(&fixture.work);
    let _ = fs::remove_dir_all(&fixture.sentinel);
    run(Command::new("cp")
        .arg("-a")
        .arg(killed.join(fixture.work.file_name().unwrap()))
        .arg(killed.join(fixture.sentinel.file_name().unwrap()))
        .arg(&fixture.tmpfs.dir));
    fs::remove_dir_all(&killed).unwrap();
}

fn table(results: &[CaseResult], elapsed: Duration) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "fault injection, {} cases in {:.0} s\n{:<19} {:<17} {:<12} {:>8} {:>9} {:>5} {:>7}  {}\n",
        results.len(),
        elapsed.as_secs_f64(),
        "program",
        "fault",
        "stage",
        "injected",
        "recovered",
        "lost",
        "outside",
        "faulted run"
    ));
    for r in results {
        out.push_str(&format!(
            "{:<19} {:<17} {:<12} {:>8} {:>9} {:>5} {:>7}  {}{}\n",
            r.program.name(),
            r.fault.name(),
            r.stage,
            u8::from(r.injected),
            u8::from(r.recovered),
            r.lost.len(),
            r.outside.len(),
            r.exit,
            if r.problems.is_empty() {
                String::new()
            } else {
                format!(" ({} problem(s))", r.problems.len())
            }
        ));
    }
    let sum = |f: &dyn Fn(&CaseResult) -> usize| results.iter().map(f).sum::<usize>();
    out.push_str(&format!(
        "{:<19} {:<17} {:<12} {:>8} {:>9} {:>5} {:>7}\n",
        "total",
        "",
        "",
        sum(&|r| usize::from(r.injected)),
        sum(&|r| usize::from(r.recovered)),
        sum(&|r| r.lost.len()),
        sum(&|r| r.outside.len()),
    ));
    out
}

#[test]
#[cfg_attr(
    not(fault_tests),
    ignore = "kills dh_rustvenv at each stage and mounts a tmpfs (root): run with DH_RUSTVENV_FAULT_TESTS=1"
)]
fn faults_at_each_stage_lose_nothing_write_nothing_outside_and_a_rerun_recovers() {
    if std::env::var_os("DH_RUSTVENV_FAULT_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set DH_RUSTVENV_FAULT_TESTS=1");
        return;
    }
    let started = Instant::now();
    let tmp = scratch("faults-");
    let fixture = prepare(tmp.path());
    eprintln!(
        "fixture prepared in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let only = std::env::var("DH_RUSTVENV_FAULT_ONLY").unwrap_or_default();
    let mut results = Vec::new();
    let faults = [
        Fault::KillProcess,
        Fault::KillGroup,
        Fault::Term,
        Fault::NoSpace,
    ];
    for (program, stages) in [
        (Program::Build, &BUILD_STAGES[..]),
        (Program::Finish, &BUILD_STAGES[INSTALL_STAGES..]),
    ] {
        let cases = faults
            .iter()
            .flat_map(|f| stages.iter().map(move |s| (*f, s)))
            .chain([(Fault::Planted, &WHOLE_RUN)]);
        for (fault, stage) in cases {
            let label = format!("{} / {} / {}", program.name(), fault.name(), stage.name);
            if !only.is_empty() && !label.contains(&only) {
                continue;
            }
            let case_started = Instant::now();
            let result = run_case(&fixture, program, fault, stage);
            if !only.is_empty() {
                eprintln!("{}", result.log);
            }
            eprintln!(
                "{label}: {} in {:.1} s, {} problem(s)",
                result.exit,
                case_started.elapsed().as_secs_f64(),
                result.problems.len()
            );
            results.push(result);
        }
    }
    let needle = fixture.needle();
    drop(fixture);
    let table = table(&results, started.elapsed());
    eprintln!("{table}");
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.problems.is_empty())
        .map(|r| {
            format!(
                "== {}\n{}\n-- the faulted run's output from the fault on:\n{}",
                r.label(),
                r.problems.join("\n"),
                r.log
            )
        })
        .collect();
    let lost: usize = results.iter().map(|r| r.lost.len()).sum();
    let outside: usize = results.iter().map(|r| r.outside.len()).sum();
    let recovered = results.iter().filter(|r| r.recovered).count();
    assert!(
        failures.is_empty() && lost == 0 && outside == 0 && recovered == results.len(),
        "{} of {} cases failed ({lost} file(s) lost, {outside} written outside, {recovered} recovered):\n{}",
        failures.len(),
        results.len(),
        failures.join("\n").replace(&needle, "[SCRATCH]")
    );
}
