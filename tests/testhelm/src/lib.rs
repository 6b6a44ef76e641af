//! Shared pieces of the test helm and ks-upgrade-sim.
