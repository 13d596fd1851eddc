# A debhelper build system for source packages whose Python project dh_rustvenv installs into a venv.
#
# The dh sequence add-on rustvenv selects it for dh_auto_configure, dh_auto_build, dh_auto_test,
# dh_auto_install and dh_auto_clean. The Python project itself is built by its PEP 517 backend when
# dh_rustvenv installs it with pip, so there is nothing to do for it here; in particular the
# python_distutils build system, which debhelper would otherwise pick for a setup.py and which is an
# error from compat 12 on, is not used. When the source has a Makefile, every step is handed to the
# makefile build system, so `make`, `make check`, `make install DESTDIR=...` and `make clean` run as
# they would without the add-on.

package Debian::Debhelper::Buildsystem::rustvenv;

use strict;
use warnings;
use parent qw(Debian::Debhelper::Buildsystem::makefile);

sub DESCRIPTION {
	"Python project installed by dh_rustvenv (make, when there is a Makefile)"
}

# Never chosen on its own: only the rustvenv add-on (or --buildsystem=rustvenv) selects it.
sub check_auto_buildable {
	return 0;
}

sub new {
	my $class = shift;
	my $this = $class->SUPER::new(@_);
	$this->enforce_in_source_building();
	return $this;
}

sub _has_makefile {
	my $this = shift;
	foreach my $name (qw(GNUmakefile makefile Makefile)) {
		return 1 if -e $this->get_buildpath($name);
	}
	return 0;
}

sub configure {
	# The makefile build system has no configure step either.
	return;
}

sub build {
	my $this = shift;
	return $this->_has_makefile() ? $this->SUPER::build(@_) : undef;
}

sub test {
	my $this = shift;
	return $this->_has_makefile() ? $this->SUPER::test(@_) : undef;
}

sub install {
	my $this = shift;
	return $this->_has_makefile() ? $this->SUPER::install(@_) : undef;
}

sub clean {
	my $this = shift;
	return $this->_has_makefile() ? $this->SUPER::clean(@_) : undef;
}

1;
