#!/usr/bin/perl
# dh sequence add-on for dh_rustvenv: enabled by `dh $@ --with rustvenv`, or by
# `Build-Depends: dh-sequence-rustvenv` (which the dh-rustvenv package provides).

use strict;
use warnings;

# dh_rustvenv builds the venv into the package build directory. It runs after dh_install and before
# dh_installinit and dh_installsystemd (so a unit's ExecStart can name the venv), and therefore before
# dh_strip, dh_makeshlibs and dh_shlibdeps, which see the venv's files.
insert_before('dh_installinit', 'dh_rustvenv');

# The Python project is built and installed by dh_rustvenv with pip. Left alone, the dh_auto_* steps
# would pick debhelper's python_distutils build system for a project with a setup.py, and that build
# system is an error from compat 12 on. The rustvenv build system takes its place: it does nothing for
# the Python project and hands every step to the makefile build system when the source has a Makefile,
# so documentation or assets built by make still are. A user's own --buildsystem (given to dh, and
# passed on as -O--buildsystem) comes later on the command line and wins. add_command_options cannot be
# used from Build-Depends-Arch or Build-Depends-Indep, so name dh-sequence-rustvenv in Build-Depends.
foreach my $command (qw(dh_auto_configure dh_auto_build dh_auto_test dh_auto_install dh_auto_clean)) {
	add_command_options($command, '--buildsystem=rustvenv');
}

# dh_rustvenv strips the venv's ELF files itself, keeping a file as pip installed it when stripping
# would break it (libraries rewritten by patchelf, as in manylinux wheels), sends their debug
# information to the -dbgsym package, and adds their shared-library dependencies to
# ${rustvenv:Depends}, resolving the libraries bundled in the venv. The ELF tools later in the sequence
# must leave the venv alone: dh_strip and dh_dwz would break those libraries and make RECORD wrong,
# dh_makeshlibs would declare the bundled private libraries as public shlibs with an ldconfig trigger,
# and dh_shlibdeps fails on bundled libraries it cannot find. dh_rustvenv also normalizes the venv's
# archives as dh_strip_nondeterminism would, before it records their hashes in RECORD.
my $install_root = $ENV{DH_RUSTVENV_INSTALL_ROOT} || $ENV{DH_VIRTUALENV_INSTALL_ROOT} || '/opt/venvs';
$install_root =~ s{^/+}{};
$install_root =~ s{/*$}{/};
foreach my $command (qw(dh_strip_nondeterminism dh_dwz dh_strip dh_makeshlibs dh_shlibdeps)) {
	add_command_options($command, "-X$install_root");
}

1;
