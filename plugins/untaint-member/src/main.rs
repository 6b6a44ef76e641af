//! `kubectl untaint-member`: a thin entry point; everything lives in the `kupgrade` library.

fn main() -> std::process::ExitCode {
    kupgrade::untaint::main()
}
