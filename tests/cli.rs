//! The command line as a user meets it: help and version. Its errors (exit code 2, naming
//! the path, file, column or config key) are in `bad_input.rs`.

use crate::common::*;

#[test]
fn help_and_version() {
    let work = Work::new();
    let help = work.sessionize_ok(&["run", "--help"]);
    assert!(help.stdout.contains("--input"));
    assert!(help.stdout.contains("Example"));
    let version = work.sessionize_ok(&["--version"]);
    assert!(version.stdout.starts_with("sessionize "));
}
