//! ks-upgrade-sim.
fn main() {}
