//! man/dh_rustvenv.1 is generated from the clap definitions, so it says what `--help` says.
//!
//! The test renders the page and compares it with the file in the repository; run it with
//! `DH_RUSTVENV_BLESS=1` to write the file after changing an option:
//! `DH_RUSTVENV_BLESS=1 cargo test --test man`.

use std::fs;
use std::path::Path;

use roff::{Roff, bold, italic, roman};

/// An indented, unfilled example block.
fn example(roff: &mut Roff, text: &str) {
    roff.control("PP", [])
        .control("RS", ["4"])
        .control("nf", [])
        .text([roman(text)])
        .control("fi", [])
        .control("RE", []);
}

/// The sections a dh_ program's man page has beyond NAME, SYNOPSIS, DESCRIPTION and OPTIONS, which
/// clap_mangen writes from the clap definitions.
fn extra_sections(roff: &mut Roff) {
    let paragraph = |roff: &mut Roff, text: &str| {
        roff.control("PP", []).text([roman(text)]);
    };
    let item = |roff: &mut Roff, term: &str, text: &str| {
        roff.control("TP", [])
            .text([bold(term)])
            .text([roman(text)]);
    };

    roff.control("SH", ["FILES"]);
    item(
        roff,
        "requirements.txt",
        "Installed into the venv when it exists in the source directory (see --requirements).",
    );
    item(
        roff,
        "pyproject.toml, setup.py",
        "The Python project of the source directory, built by its PEP 517 build backend and installed into the venv, unless --skip-install is given.",
    );
    item(
        roff,
        "debian/package.substvars",
        "${rustvenv:Depends} is added here: the Debian package of the interpreter the venv is tied to, such as python3.11, and the packages of the shared libraries its compiled code needs (${rustvenv:Recommends} and ${rustvenv:Suggests} for those named with --recommends and --suggests). Run as dh_virtualenv, the interpreter goes to ${misc:Depends} and the libraries to ${shlibs:Depends}, or to ${misc:Depends} when debian/control does not name ${shlibs:Depends}. A substvar that no relation field of debian/control names gets a warning naming the field to add it to.",
    );
    item(
        roff,
        "debian/package.postinst.debhelper, prerm.debhelper, postrm.debhelper",
        "Maintainer-script snippets: postinst byte-compiles the venv at its final path (also when triggered, as by an interpreter upgrade), prerm and postrm remove the bytecode, including what Python wrote while the program ran. postinst and prerm first set dh-virtualenv's variables dh_venv_package and dh_venv_install_dir, for the package's own code after #DEBHELPER#.",
    );

    item(
        roff,
        "debian/.debhelper/rustvenv/package/",
        "What dh_rustvenv_finish reads: the state of the run that built the venv, and a snapshot of the venv's entries.",
    );

    roff.control("SH", ["ENVIRONMENT"]);
    item(
        roff,
        "DH_RUSTVENV_INSTALL_ROOT",
        "The directory venvs are installed under. Default: DH_VIRTUALENV_INSTALL_ROOT, else /opt/venvs (run as dh_virtualenv, DH_VIRTUALENV_INSTALL_ROOT comes first).",
    );
    item(
        roff,
        "DH_VERBOSE",
        "Any non-empty value is the same as --verbose; the output of pip is then shown too.",
    );
    item(
        roff,
        "DH_NO_ACT",
        "Any non-empty value is the same as --no-act.",
    );
    item(
        roff,
        "DH_OPTIONS",
        "Options read before the command line; words dh_rustvenv does not know are ignored with a warning.",
    );
    item(
        roff,
        "DH_INTERNAL_OPTIONS",
        "Options dh passes to commands run from override targets, separated by the ASCII record separator; its package selection limits which packages -p may select.",
    );
    item(
        roff,
        "DEB_BUILD_ARCH, DEB_HOST_ARCH, DEB_HOST_GNU_TYPE, DEB_HOST_MULTIARCH",
        "Set by dpkg-buildpackage (dpkg-architecture(1)). A host architecture other than the build machine's makes a cross build (see NOTES); a variable that is not set is asked of dpkg-architecture.",
    );
    item(
        roff,
        "PIP_*",
        "pip's own settings are passed on, except that PIP_CACHE_DIR is set to a directory in debian/.debhelper, so the cache lands neither in the package nor in $HOME.",
    );

    roff.control("SH", ["EXAMPLES"]);
    paragraph(
        roff,
        "The usual debian/rules, with Build-Depends: dh-sequence-rustvenv in debian/control:",
    );
    example(roff, "%:\n\tdh $@");
    paragraph(
        roff,
        "Building offline from wheels shipped in the source package:",
    );
    example(
        roff,
        "override_dh_rustvenv:\n\tdh_rustvenv --extra-pip-arg=--no-index \\\n\t\t--extra-pip-arg=--find-links=debian/wheelhouse",
    );
    paragraph(
        roff,
        "In debian/control, Depends: ${rustvenv:Depends}, ${misc:Depends}; ${rustvenv:Depends} also carries the shared libraries the venv's compiled code needs, so ${shlibs:Depends} is only needed for ELF files outside the venv.",
    );

    roff.control("SH", ["NOTES"]);
    paragraph(
        roff,
        "Cross builds (dpkg-buildpackage -a arm64, sbuild --host=arm64) need no option: the venv is created by the build machine's interpreter of the same minor version, the host architecture's wheels are installed (pip with --target and --platform, each install then moved into the venv as a native install lays it out; uv with --python-platform), the project and any sdist without a host wheel are built as wheels on the build machine, the host's strip and objcopy strip, and the host's libraries give the dependencies. Compiled code with no wheel for the host stops the build, naming the distribution and the wheel it needs; --download-for=3.11@arm64 fetches the host's wheels. --test is not run in a cross build.",
    );
    paragraph(
        roff,
        "dh_rustvenv_finish is the same program under a second name, run by the sequence add-on after dh_missing: it takes every file rules added to the venv or changed after dh_rustvenv ran (override targets, the staged interpreter run to generate files) through relocation, stripping, archive normalization and RECORD, removes bytecode the staged interpreter wrote, then audits the whole venv and rewrites the dependencies. Files already in the venv directory when dh_rustvenv runs (put there by dh_install) are kept; a file pip also installs is an error.",
    );
    paragraph(
        roff,
        "dh_virtualenv, installed by the dh-rustvenv-virtualenv package with the python-virtualenv sequence, is the same program with dh_virtualenv 1.2.2's defaults, so that a source package written for dh-virtualenv builds unedited.",
    );
    paragraph(
        roff,
        "The variables only dh-virtualenv 1.2.2's build system read (DH_VIRTUALENV_ARGUMENTS, DH_VIRTUALENV_INSTALL_SUFFIX, DH_REQUIREMENTS_FILE, DH_PIP_EXTRA_ARGS, DH_UPGRADE_PIP, DH_UPGRADE_SETUPTOOLS, DH_UPGRADE_WHEEL) are not read by dh_rustvenv or by dh_virtualenv in the sequence: dh_virtualenv ignores them as dh_virtualenv 1.2.2 did (and says so with --verbose), dh_rustvenv warns that it ignores them.",
    );
    paragraph(
        roff,
        "The dh-rustvenv-virtualenv package also provides dh-virtualenv's build system, dh $@ --buildsystem=dh_virtualenv. Its dh_auto_install runs dh_virtualenv --buildsystem-destdir=DIR (an option for the build system only, not shown above), which builds the venv under DIR, dh_auto_install's destination (debian/PACKAGE, or debian/tmp when debian/control has several packages; the substvars, snippets and lintian overrides are then those of the first package acted on), with the build system's variables and defaults: the install root DH_VIRTUALENV_INSTALL_ROOT, else /usr/share/python; the venv's name DH_VIRTUALENV_INSTALL_SUFFIX, else the source package's name; the requirements file DH_REQUIREMENTS_FILE, else requirements.txt; DH_PIP_EXTRA_ARGS given to the upgrades and the requirements install, not to the project's; DH_UPGRADE_PIP, DH_UPGRADE_SETUPTOOLS and DH_UPGRADE_WHEEL (empty: the newest, else that version); DH_VIRTUALENV_ARGUMENTS read for python3 -m venv: --python X, -p X and --python=X choose the interpreter, --system-site-packages is kept, --no-site-packages dropped, --copies, --symlinks and --prompt NAME passed on, anything else an error. dh_auto_configure, dh_auto_build, dh_auto_test and dh_auto_clean do nothing.",
    );
    paragraph(
        roff,
        "A venv only works with the Python minor version it was built with; ${rustvenv:Depends} names that interpreter's package, so a new Python release needs a rebuild of the package.",
    );
    paragraph(
        roff,
        "The package ships no bytecode: every .pyc would name the path it was compiled at. The venv is byte-compiled by postinst at its final path, and the bytecode is removed by prerm and postrm, as dh_python3 does for Debian's own Python packages.",
    );
    paragraph(
        roff,
        "dh_rustvenv removes a venv an earlier run left in the package build directory and builds it anew. When it fails, it leaves no venv behind and writes no substvar or snippet. Files that building the source package leaves in the source tree (setuptools' build/ and *.egg-info) are removed.",
    );
    paragraph(
        roff,
        "After relocation, every file of the venv is scanned for the build directory and the staging path; any left is an error unless --allow-leaks is given.",
    );
    paragraph(
        roff,
        "Differences from dh_virtualenv: -a and -i take no value and select packages as every dh_ program does; packages whose names start with python3 are not skipped; the venv is always created with python3 -m venv; no build directory is left in pyvenv.cfg, RECORD, direct_url.json, activate scripts or bytecode; the dependencies are filled in; the ELF files are stripped safely, and an empty override_dh_strip keeps them unstripped. As with dh_virtualenv, dh_auto_build, dh_auto_test, dh_auto_install and dh_auto_clean are not run; dh_auto_configure, also inside override targets, uses the rustvenv build system.",
    );

    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("debhelper"),
        roman("(7), "),
        bold("dh"),
        roman("(1), "),
        bold("pip"),
        roman("(1), "),
        italic("https://peps.python.org/pep-0405/"),
    ]);
}

/// The options, one section per clap help heading: OPTIONS for those without one, then e.g.
/// "DEBHELPER OPTIONS", in the order the headings first appear. clap_mangen 0.2 writes every option
/// under OPTIONS, so each heading's options are rendered from a command holding only them, and the
/// section title is put back.
fn render_options_by_heading(out: &mut Vec<u8>) {
    let mut command = dh_rustvenv::options::command();
    command.build();
    let mut headings: Vec<Option<&str>> = vec![None];
    for arg in command.get_arguments() {
        if !headings.contains(&arg.get_help_heading()) {
            headings.push(arg.get_help_heading());
        }
    }
    for heading in headings {
        // The name is not rendered: only the options section of this command is.
        let group = clap::Command::new("dh_rustvenv")
            .version(env!("CARGO_PKG_VERSION"))
            .disable_help_flag(true)
            .disable_version_flag(true)
            .args(
                command
                    .get_arguments()
                    .filter(|a| a.get_help_heading() == heading)
                    .cloned(),
            );
        let mut section = Vec::new();
        clap_mangen::Man::new(group)
            .render_options_section(&mut section)
            .unwrap();
        let section = String::from_utf8(section).unwrap();
        let title = match heading {
            None => "OPTIONS".to_owned(),
            Some(h) => format!("\"{}\"", h.to_uppercase()),
        };
        let section = section.replacen(".SH OPTIONS\n", &format!(".SH {title}\n"), 1);
        out.extend_from_slice(section.as_bytes());
    }
}

fn render() -> Vec<u8> {
    let command = dh_rustvenv::options::command();
    let man = clap_mangen::Man::new(command)
        .section("1")
        .manual("Debhelper")
        .source(format!("dh-rustvenv {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    render_options_by_heading(&mut out);
    let mut roff = Roff::new();
    extra_sections(&mut roff);
    roff.to_writer(&mut out).unwrap();
    out
}

#[test]
fn man_page_is_generated_from_the_clap_definitions() {
    let rendered = render();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/dh_rustvenv.1");
    if std::env::var_os("DH_RUSTVENV_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &rendered).unwrap();
    }
    let committed = fs::read(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} is out of date; regenerate it with DH_RUSTVENV_BLESS=1 cargo test --test man",
        path.display()
    );
    let text = String::from_utf8(rendered).unwrap();
    for section in [
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "ENVIRONMENT",
        "EXAMPLES",
    ] {
        assert!(
            text.contains(&format!(".SH {section}")),
            "no {section} section"
        );
    }
}
