# What the two dh sequence add-ons of dh-rustvenv share: rustvenv (dh_rustvenv) and python_virtualenv
# (the dh-virtualenv drop-in, whose dh_virtualenv is dh_rustvenv with dh_virtualenv's defaults).
# Sequence modules are loaded into the package Debian::Debhelper::DH::AddonAPI, whose functions are
# called here by their full names.

package Debian::Debhelper::Rustvenv;

use strict;
use warnings;

# Places $command (dh_rustvenv or dh_virtualenv) and the late stage dh_rustvenv_finish in the dh
# sequence, and keeps the rest of the sequence out of the venv under $install_root.
sub setup_sequence {
	my ($command, $install_root) = @_;

	# The venv is built after dh_install and before dh_installinit and dh_installsystemd, so a unit's
	# ExecStart can name it (where dh-virtualenv put dh_virtualenv).
	Debian::Debhelper::DH::AddonAPI::insert_before('dh_installinit', $command);

	# Rules add files to the venv after it is built: override targets copy programs into bin/, the
	# staged interpreter is run to generate files. dh_rustvenv_finish takes what was added or changed
	# since through relocation, stripping, the dependencies and the audit. It runs after dh_missing, so
	# after every command and override that can add files (in the arch and the indep sequences alike),
	# and before dh_dwz, dh_strip, dh_makeshlibs, dh_shlibdeps, dh_gencontrol and dh_md5sums.
	Debian::Debhelper::DH::AddonAPI::insert_after('dh_missing', 'dh_rustvenv_finish');

	# As dh-virtualenv's sequence does: the Python project is built and installed by pip into the venv,
	# so debhelper's own build, test, install and clean steps are not run (nor, therefore, override
	# targets of them). Rules written for dh-virtualenv rely on it: --buildsystem=pybuild would run the
	# project's tests against the system Python, and override_dh_auto_install targets that never ran
	# would run. A source package with a Makefile step calls dh_auto_build and friends from hook targets
	# (see README).
	foreach my $step (qw(dh_auto_build dh_auto_test dh_auto_install dh_auto_clean)) {
		Debian::Debhelper::DH::AddonAPI::remove_command($step);
	}

	# dh_auto_configure stays. Left to itself, debhelper picks python_distutils for a setup.py, which is
	# an error from compat 12 on (dh-virtualenv bug #326). The rustvenv build system does nothing for the
	# Python project (and hands every step to make when there is a Makefile). It is given as an option
	# dh passes to every command: so it also reaches dh_auto_* commands called inside override targets
	# (through DH_INTERNAL_OPTIONS), which add_command_options cannot reach. A --buildsystem given to dh
	# itself comes later and wins. Commands that do not know --buildsystem ignore it, as they ignore
	# every -O option they do not know.
	unshift(@Debian::Debhelper::DH::SequenceState::options, '-O--buildsystem=rustvenv');
	$Debian::Debhelper::DH::SequenceState::seen_options{'--buildsystem'} = 1;

	# The venv's ELF files are stripped safely by dh_rustvenv and dh_rustvenv_finish (a library that
	# stripping would break, as patchelf leaves them in manylinux wheels, is kept as it is), their debug
	# information goes to the -dbgsym package, and their shared-library dependencies are worked out with
	# the libraries bundled in the venv resolved. The ELF tools later in the sequence must leave the venv
	# alone: dh_strip and dh_dwz would break those libraries and make RECORD wrong, dh_makeshlibs would
	# declare bundled private libraries as public shlibs, dh_shlibdeps fails on bundled libraries it
	# cannot find. dh_rustvenv normalizes the venv's archives itself, before it records their hashes in
	# RECORD. add_command_options cannot be used from Build-Depends-Arch or Build-Depends-Indep, so the
	# add-on belongs in Build-Depends.
	foreach my $tool (qw(dh_strip_nondeterminism dh_dwz dh_strip dh_makeshlibs dh_shlibdeps)) {
		Debian::Debhelper::DH::AddonAPI::add_command_options($tool, venv_exclusions($install_root));
	}

	# dh_auto_clean is not run, so nothing removes what pybuild's configure step (dh_auto_configure with
	# --buildsystem=pybuild, which rules written for dh-virtualenv often give) leaves in .pybuild/, nor
	# a .pybuild/ committed by mistake: dh_clean removes it (a path ending in / is removed with rm -rf).
	# An override_dh_clean that runs dh_clean itself does not get this option, as dh passes command
	# options only to the commands it runs.
	Debian::Debhelper::DH::AddonAPI::add_command_options('dh_clean', '.pybuild/');
	return;
}

# The -X options that keep dh_strip and its friends out of the venvs under $install_root. Their -X is a
# substring match on the path in the package build directory, so the root is written as it appears
# there, normalized as dh_rustvenv normalizes it (see normalized_root): no leading slash, no double or
# trailing slash, no . or .. (DH_VIRTUALENV_INSTALL_ROOT=/usr//lib/ gives usr/lib), and it ends with a
# slash so that /opt/venvs-old is not /opt/venvs. The roots that hold nothing but venvs are excluded
# whole: /opt/venvs (dh-rustvenv's and dh_virtualenv's default) and /usr/share/python (the default of
# dh-virtualenv's build system, where a package moved from it keeps its venv, named after the source
# package). Any other root (/opt, /usr/lib) is shared with files that are not venvs, so only the venv
# of each binary package of debian/control is excluded, at its default name: <root>/<package>/. A venv
# given another name with --install-suffix under such a root needs its own -X in override targets (see
# README). A root that is / gets no -X (dh_rustvenv refuses it): -X/ would keep the ELF tools out of
# the whole package.
sub venv_exclusions {
	my ($install_root) = @_;
	my $root = normalized_root($install_root);
	return () if $root eq '';
	return ("-X$root/") if $root eq 'opt/venvs' or $root eq 'usr/share/python';
	return map { "-X$root/$_/" } Debian::Debhelper::Dh_Lib::getpackages();
}

# $path as dh_rustvenv normalizes an install root (tree::normalize), without the leading slash: empty
# and . components dropped, each .. taking away the component before it (lexically: symlinks are not
# followed; a .. at the top stays there). File::Spec->canonpath does all of it but the .., which it
# keeps, so that /usr/lib/x/.. would give -Xusr/lib/x/../<package>/, which matches no path.
sub normalized_root {
	my ($path) = @_;
	my @parts;
	foreach my $part (split(m{/+}, $path)) {
		next if $part eq '' or $part eq '.';
		if ($part eq '..') {
			pop(@parts);
			next;
		}
		push(@parts, $part);
	}
	return join('/', @parts);
}

1;
