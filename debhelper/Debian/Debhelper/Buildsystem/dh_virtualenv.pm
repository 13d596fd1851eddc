# dh-virtualenv's build system (`dh $@ --buildsystem=dh_virtualenv`), as the dh-virtualenv drop-in
# (the dh-rustvenv-virtualenv package) provides it, so that a source package written for dh-virtualenv
# 1.2.2's build system builds with no edit.
#
# dh-virtualenv 1.2.2's lib/Debian/Debhelper/Buildsystem/dh_virtualenv.pm built the venv with virtualenv
# in a build directory (configure, build), copied it into dh_auto_install's destination and rewrote the
# scripts' #! lines (install). Here dh_auto_install runs `dh_virtualenv --buildsystem-destdir DIR`,
# which builds the venv straight into DIR with the pipeline of the sequence (venv, relocation, safe
# stripping, audit, dependencies, maintainer-script snippets), reading that build system's variables
# and defaults: DH_VIRTUALENV_INSTALL_ROOT (default /usr/share/python), DH_VIRTUALENV_INSTALL_SUFFIX
# (default: the source package's name), DH_REQUIREMENTS_FILE, DH_PIP_EXTRA_ARGS, DH_UPGRADE_PIP,
# DH_UPGRADE_SETUPTOOLS, DH_UPGRADE_WHEEL and DH_VIRTUALENV_ARGUMENTS (see dh_virtualenv(1), NOTES).

package Debian::Debhelper::Buildsystem::dh_virtualenv;

use strict;
use warnings;
use parent qw(Debian::Debhelper::Buildsystem);
use Debian::Debhelper::Dh_Lib;

sub DESCRIPTION {
	"Python virtualenv (dh-virtualenv's build system, built by dh-rustvenv)"
}

# Never chosen on its own. debhelper's auto-selection only looks at its own build systems and a fixed
# list of third-party ones (Dh_Buildsystems.pm), so dh-virtualenv's was only ever used when named with
# --buildsystem=dh_virtualenv, whatever its check for setup.py said.
sub check_auto_buildable {
	return 0;
}

sub new {
	my $class = shift;
	my $this = $class->SUPER::new(@_);
	# pip builds the project in a directory of its own; there is no build directory to prefer.
	$this->enforce_in_source_building();
	return $this;
}

# The venv is built in one step, by dh_auto_install, which knows where it goes.
sub configure {
	return;
}

sub build {
	return;
}

# dh-virtualenv ran `python setup.py test`, which setuptools has removed: no test is run.
sub test {
	verbose_print("dh_virtualenv build system: no tests are run (setup.py test was removed from setuptools)");
	return;
}

sub install {
	my ($this, $destdir) = @_;
	# The packages dh_auto_install acts on (-a, -i, -p); dh_virtualenv builds the venv for the one
	# whose package build directory is $destdir, else for the first of them (when the destination is
	# debian/tmp).
	my @packages = @{$dh{DOPACKAGES} // []};
	return if not @packages;
	my @args = (map { "-p$_" } @packages);
	my $sourcedir = $this->get_sourcedir();
	push(@args, "--sourcedirectory=$sourcedir") if $sourcedir ne '.';
	push(@args, '-v') if $dh{VERBOSE};
	doit('dh_virtualenv', @args, "--buildsystem-destdir=$destdir");
	return;
}

# Nothing to remove: pip's build leftovers are removed as the venv is built, and the venv is in the
# package build directory (or debian/tmp), which dh_clean removes.
sub clean {
	return;
}

1;
