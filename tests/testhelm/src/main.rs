//! The test helm.
fn main() {}
