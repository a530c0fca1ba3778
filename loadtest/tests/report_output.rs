//! The report goes to standard output; a reader that has gone is an error, not a panic.

#![allow(clippy::expect_used, reason = "a test fails loudly")]

use std::process::{Command, Stdio};

#[test]
fn a_closed_standard_output_is_reported_as_an_error_without_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_identity-bench"))
        .args(["argon2", "--duration", "1ms", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("identity-bench starts");
    drop(child.stdout.take());

    let output = child.wait_with_output().expect("identity-bench ends");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status: {}", output.status);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(stderr.contains("Broken pipe"), "stderr: {stderr}");
}
