//! `debian/control`: the source package's name, and which substvars each binary package's relation
//! fields name.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

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

/// Reads the relation fields of every binary package of the control file `control`, by package name,
/// with dpkg's own parser (`Dpkg::Control::Info` of libdpkg-perl, which dpkg-gencontrol uses), so
/// that comments, continuation lines and field-name case are read as dpkg reads them.
///
/// # Errors
/// When perl cannot be run, or dpkg's parser rejects the file; the message names the file.
pub fn control_relations(control: &Path) -> Result<BTreeMap<String, Relations>> {
    const FIELDS: &str = "Pre-Depends Depends Recommends Suggests Enhances Breaks Conflicts \
                          Provides Replaces Built-Using";
    let script = format!(
        "use Dpkg::Control::Info; my $c = Dpkg::Control::Info->new(filename => $ARGV[0]); \
         foreach my $p ($c->get_packages()) {{ foreach my $f (qw({FIELDS})) {{ \
         next unless defined $p->{{$f}}; my $v = $p->{{$f}}; $v =~ s/\\s+/ /g; \
         print \"$p->{{Package}}\\t$f\\t$v\\n\"; }} }}"
    );
    let listing = Command::new("perl")
        .args(["-e", &script])
        .arg(control)
        .query()
        .with_context(|| format!("reading the relation fields of {}", control.display()))?;
    let mut packages: BTreeMap<String, Relations> = BTreeMap::new();
    for line in listing.lines() {
        let mut parts = line.splitn(3, '\t');
        if let (Some(package), Some(field), Some(value)) =
            (parts.next(), parts.next(), parts.next())
        {
            packages
                .entry(package.to_owned())
                .or_default()
                .fields
                .insert(field.to_owned(), value.trim().to_owned());
        }
    }
    Ok(packages)
}

/// The source package's name: the `Source` field of the first paragraph of `control` (normally
/// `debian/control`), which dpkg-gencontrol writes into each binary package when it differs from
/// the package's name. None when the file cannot be read or has no such field.
pub fn source_name(control: &Path) -> Option<String> {
    let text = fs::read_to_string(control).ok()?;
    text.lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            (!line.starts_with([' ', '\t']) && field.trim().eq_ignore_ascii_case("source"))
                .then(|| value.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
}

/// The source package's name, from the `Source:` field of `debian/control` under `top` (what
/// debhelper's `sourcepackage()` reads): the build system's default venv name.
///
/// # Errors
/// When `debian/control` cannot be read or has no `Source:` field in its first paragraph.
pub fn source_package(top: &Path) -> Result<String> {
    let path = top.join("debian/control");
    source_name(&path).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no Source: field in its first paragraph; add the source package's name",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let packages = control_relations(&control).unwrap();
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
        let error = format!("{:#}", control_relations(&control).unwrap_err());
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
        assert_eq!(source_name(&control).as_deref(), Some("demo-src"));
        fs::write(&control, "Maintainer: x\n Source: no\n\nSource: late\n").unwrap();
        assert_eq!(source_name(&control), None);
        assert_eq!(source_name(&dir.path().join("missing")), None);
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
        assert_eq!(source_package(dir.path()).unwrap(), "legacy-web");
        std::fs::write(dir.path().join("debian/control"), "Package: x\n").unwrap();
        assert!(source_package(dir.path()).is_err());
    }
}
