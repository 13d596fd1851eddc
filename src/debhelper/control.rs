//! `debian/control` as dpkg reads it: the source package's name and, for each binary package, which
//! substvars its relation fields name. One perl call to dpkg's own parser (`Dpkg::Control::Info` of
//! libdpkg-perl, which dpkg-gencontrol uses) reads both, so comments, continuation lines and field-name
//! case are read as dpkg reads them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::command::Command;

/// The relation fields of one binary package in `debian/control` (Debian Policy 7.1: `Pre-Depends`,
/// `Depends`, `Recommends`, `Suggests`, `Enhances`, `Breaks`, `Conflicts`, `Provides`, `Replaces`,
/// `Built-Using`), each as written, continuation lines joined by a space, substvars unexpanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Field name to value, for the fields the package has.
    pub fields: BTreeMap<String, String>,
}

impl Relations {
    /// The fields that name the substvar `name` (`shlibs:Depends` for `${shlibs:Depends}`), in field
    /// name order: what dpkg-gencontrol will substitute it into. Empty: the substvar's value would be
    /// dropped, with dpkg-gencontrol's warning "substitution variable ${...} unused, but is defined".
    pub fn fields_naming(&self, name: &str) -> Vec<&str> {
        let wanted = format!("${{{name}}}");
        self.fields
            .iter()
            .filter(|(_, value)| value.contains(&wanted))
            .map(|(field, _)| field.as_str())
            .collect()
    }

    /// Whether any field names the substvar `name`.
    pub fn names(&self, name: &str) -> bool {
        !self.fields_naming(name).is_empty()
    }

    /// Whether `Depends`, `Pre-Depends` or `Recommends` names a Python 3 library package of Debian
    /// (`python3-*`, the names Debian Python Policy 2.2 gives them), or a substvar that carries them
    /// (`${python3:Depends}`).
    pub fn names_python3_package(&self) -> bool {
        ["Pre-Depends", "Depends", "Recommends"]
            .iter()
            .filter_map(|field| self.fields.get(*field))
            .any(|value| {
                value.contains("${python3:Depends}")
                    || value
                        .split([',', '|'])
                        .map(|item| item.trim_start())
                        .any(|item| item.starts_with("python3-"))
            })
    }
}

/// What [`control_info`] read from a control file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlInfo {
    /// The `Source` field of the first stanza, white space runs joined by one space; None when the file
    /// cannot be read, its first stanza does not parse or has no (or an empty) `Source` field.
    pub source: Option<String>,
    /// The relation fields of every binary package dpkg read, by package name; a package without
    /// relation fields is not listed.
    pub relations: BTreeMap<String, Relations>,
    /// dpkg's message when it rejects the file (it cannot be read, a line is not `Field: value`, a
    /// stanza lacks `Source`, `Package` or `Architecture`); `source` and `relations` then hold what it
    /// read before the error.
    pub rejected: Option<String>,
}

/// The relation fields [`Relations`] holds, as perl words.
const RELATION_FIELDS: &str = "Pre-Depends Depends Recommends Suggests Enhances Breaks Conflicts Provides Replaces Built-Using";

/// Reads the control file `control` (normally `debian/control`) with one call to dpkg's parser:
/// the source package's name and the relation fields of every binary package. A file dpkg rejects is
/// not an error here: its message is in [`ControlInfo::rejected`], and each caller decides.
///
/// # Errors
/// When perl cannot be run or fails outside dpkg's parser (libdpkg-perl missing).
pub fn control_info(control: &Path) -> Result<ControlInfo> {
    // Tab-separated lines: `S <source>`, `P <package> <field> <value>`, `E <dpkg's message>`.
    let script = format!(
        "use Dpkg::Control::Info; my $c = Dpkg::Control::Info->new(filename => undef); \
         eval {{ $c->load($ARGV[0]) }}; my $e = $@; \
         my $s = $c->get_source(); \
         if (defined $s && defined $s->{{Source}}) {{ my $v = $s->{{Source}}; $v =~ s/\\s+/ /g; \
         print \"S\\t$v\\n\"; }} \
         foreach my $p ($c->get_packages()) {{ next unless defined $p->{{Package}}; \
         foreach my $f (qw({RELATION_FIELDS})) {{ \
         next unless defined $p->{{$f}}; my $v = $p->{{$f}}; $v =~ s/\\s+/ /g; \
         print \"P\\t$p->{{Package}}\\t$f\\t$v\\n\"; }} }} \
         if ($e) {{ $e =~ s/^-e: //; $e =~ s/\\s+/ /g; print \"E\\t$e\\n\"; }}"
    );
    let listing = Command::new("perl")
        .args(["-e", &script])
        .arg(control)
        .query()
        .with_context(|| format!("reading {}", control.display()))?;
    let mut info = ControlInfo::default();
    for line in listing.lines() {
        let mut parts = line.splitn(2, '\t');
        match (parts.next(), parts.next()) {
            (Some("S"), Some(source)) => {
                info.source = Some(source.trim().to_owned()).filter(|s| !s.is_empty());
            }
            (Some("P"), Some(rest)) => {
                let mut parts = rest.splitn(3, '\t');
                if let (Some(package), Some(field), Some(value)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    info.relations
                        .entry(package.to_owned())
                        .or_default()
                        .fields
                        .insert(field.to_owned(), value.trim().to_owned());
                }
            }
            (Some("E"), Some(message)) => info.rejected = Some(message.trim().to_owned()),
            _ => {}
        }
    }
    Ok(info)
}

/// Reads the control file `control` with dpkg's own parser ([`control_info`]): the source package's
/// name and the relation fields of every binary package, by package name.
///
/// # Errors
/// When perl cannot be run, or dpkg's parser rejects the file; the message names the file.
pub fn read_control(control: &Path) -> Result<ControlInfo> {
    let info = control_info(control)?;
    match info.rejected {
        Some(message) => Err(anyhow!("{message}"))
            .with_context(|| format!("reading the relation fields of {}", control.display())),
        None => Ok(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn relation_fields_are_read_as_dpkg_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        fs::write(
            &control,
            "Source: relay\nMaintainer: Ops <ops@example.org>\n\nPackage: relay\nArchitecture: any\n\
             depends: ${misc:Depends},\n# a comment\n python3-systemd\nRecommends: ${shlibs:Recommends}\n\
             Description: relay\n relay.\n\nPackage: relay-doc\nArchitecture: all\nDescription: d\n d.\n",
        )
        .unwrap();
        let packages = read_control(&control).unwrap().relations;
        let relay = &packages["relay"];
        assert_eq!(relay.fields["Depends"], "${misc:Depends}, python3-systemd");
        assert_eq!(relay.fields_naming("misc:Depends"), ["Depends"]);
        assert!(relay.names("shlibs:Recommends"));
        assert!(!relay.names("shlibs:Depends"));
        assert!(relay.names_python3_package());
        assert!(!packages.contains_key("relay-doc"));

        fs::write(
            &control,
            "Source: x\n\nPackage: x\nDepends ${misc:Depends}\n",
        )
        .unwrap();
        let error = format!("{:#}", read_control(&control).unwrap_err());
        assert!(error.contains(&control.display().to_string()), "{error}");
    }
    #[test]
    fn source_name_is_the_first_paragraphs_source_field() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        fs::write(
            &control,
            "source: demo-src\nMaintainer: x\n\nPackage: demo\nSource: other\n",
        )
        .unwrap();
        let source = |control: &Path| control_info(control).unwrap().source;
        assert_eq!(source(&control).as_deref(), Some("demo-src"));
        fs::write(&control, "Maintainer: x\n Source: no\n\nSource: late\n").unwrap();
        assert_eq!(source(&control), None);
        assert_eq!(source(&dir.path().join("missing")), None);
    }
    #[test]
    fn the_source_package_name_comes_from_debian_control() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("debian")).unwrap();
        std::fs::write(
            dir.path().join("debian/control"),
            "# comment\nSource: legacy-web\nSection: web\n\nPackage: legacy-web-app\n",
        )
        .unwrap();
        let source = || {
            control_info(&dir.path().join("debian/control"))
                .unwrap()
                .source
        };
        assert_eq!(source().as_deref(), Some("legacy-web"));
        std::fs::write(dir.path().join("debian/control"), "Package: x\n").unwrap();
        assert_eq!(source(), None);
    }

    #[test]
    fn comments_and_continuation_lines_are_read_as_dpkg_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        fs::write(
            &control,
            "# Source: not-this-one, a comment\n#\n\nSource: demo-src\n# between fields\n\
             Maintainer: x\n\nPackage: demo\nArchitecture: all\nDepends: ${misc:Depends},\n\
             # python3-old,\n python3-new\n",
        )
        .unwrap();
        let info = control_info(&control).unwrap();
        assert_eq!(info.source.as_deref(), Some("demo-src"));
        assert_eq!(info.rejected, None);
        assert_eq!(
            info.relations["demo"].fields["Depends"],
            "${misc:Depends}, python3-new"
        );

        let missing = control_info(&dir.path().join("missing")).unwrap();
        assert_eq!(missing.source, None);
        assert!(missing.rejected.is_some());
    }
}
