//! The binary's own contract, with no cluster: `--version`, `--help`, usage errors.
//! (It also makes `cargo test --workspace` build the binary the end-to-end suite runs.)

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-untaint_member");

#[test]
fn version_names_the_command_the_version_and_the_commit() {
    e2e::contract::version(BIN, "untaint-member");
}

#[test]
fn help_shows_kubectl_usage_and_connection_flags() {
    e2e::contract::help(BIN, "untaint-member");
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_2() {
    e2e::contract::unknown_flag(BIN);
}
