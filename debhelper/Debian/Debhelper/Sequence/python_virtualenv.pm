#!/usr/bin/perl
# dh sequence add-on of the dh-virtualenv drop-in (the dh-rustvenv-virtualenv package): enabled by
# `dh $@ --with python-virtualenv`, as dh-virtualenv's was, so that a source package written for
# dh-virtualenv 1.2.2 builds with no edit. Its dh_virtualenv is dh_rustvenv with dh_virtualenv's
# defaults; the sequence is dh-virtualenv's (dh_virtualenv before dh_installinit, no dh_auto_build,
# dh_auto_test, dh_auto_install or dh_auto_clean) with what dh-rustvenv adds (see Rustvenv.pm).

use strict;
use warnings;
use Debian::Debhelper::Rustvenv;

Debian::Debhelper::Rustvenv::setup_sequence('dh_virtualenv',
	$ENV{DH_VIRTUALENV_INSTALL_ROOT} || $ENV{DH_RUSTVENV_INSTALL_ROOT} || '/opt/venvs');

# dh-virtualenv's sequence also removed the long-gone Python 2 helpers; so does this one, so that
# rules still naming them behave the same.
foreach my $command (qw(dh_python2 dh_pycentral dh_pysupport)) {
	Debian::Debhelper::DH::AddonAPI::remove_command($command);
}

1;
