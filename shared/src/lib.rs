//! kupgrade: the shared library of the kubectl upgrade plugin suite.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod health { pub fn main() -> std::process::ExitCode { std::process::ExitCode::SUCCESS } }
pub mod plan { pub fn main() -> std::process::ExitCode { std::process::ExitCode::SUCCESS } }
pub mod migrate { pub fn main() -> std::process::ExitCode { std::process::ExitCode::SUCCESS } }
pub mod untaint { pub fn main() -> std::process::ExitCode { std::process::ExitCode::SUCCESS } }
