//! Setup shared by several end-to-end test files (each includes it with `mod common;` and
//! uses what it needs, hence `dead_code` is allowed here).
#![allow(dead_code)]

pub mod failures;
pub mod migrate;
