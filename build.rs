//! Turns the opt-in variables of the tests that need more than this machine into cfgs, so that such a
//! test is reported as ignored, with its reason, unless its variable is set to 1:
//! `DH_RUSTVENV_NETWORK_TESTS` (the package index) gives `network_tests`, `DH_RUSTVENV_SBUILD_TESTS`
//! (sbuild and a chroot from the Debian archive) gives `sbuild_tests`, `DH_RUSTVENV_AUTOPKGTEST_TESTS`
//! (autopkgtest's null backend, which installs packages on this machine) gives `autopkgtest_tests`,
//! `DH_RUSTVENV_FAULT_TESTS` (fault injection: kills dh_rustvenv at each stage, mounts a tmpfs as
//! root) gives `fault_tests`, `DH_RUSTVENV_ARM64_TESTS` (arm64 packages run under qemu-user-static
//! in an arm64 chroot, binfmt_misc registered as root) gives `arm64_tests`.
//! Cargo builds again when they change.

fn main() {
    for (variable, cfg) in [
        ("DH_RUSTVENV_NETWORK_TESTS", "network_tests"),
        ("DH_RUSTVENV_SBUILD_TESTS", "sbuild_tests"),
        ("DH_RUSTVENV_AUTOPKGTEST_TESTS", "autopkgtest_tests"),
        ("DH_RUSTVENV_FAULT_TESTS", "fault_tests"),
        ("DH_RUSTVENV_ARM64_TESTS", "arm64_tests"),
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(variable).is_some_and(|v| v == "1") {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
}
