#!/usr/bin/perl
# dh sequence add-on for dh_rustvenv: enabled by `dh $@ --with rustvenv`, or by
# `Build-Depends: dh-sequence-rustvenv` (which the dh-rustvenv package provides).

use strict;
use warnings;
use Debian::Debhelper::Rustvenv;

Debian::Debhelper::Rustvenv::setup_sequence('dh_rustvenv',
	$ENV{DH_RUSTVENV_INSTALL_ROOT} || $ENV{DH_VIRTUALENV_INSTALL_ROOT} || '/opt/venvs');

1;
