//! `kubectl upgrade-plan`: a thin entry point; everything lives in the `kupgrade` library.

fn main() -> std::process::ExitCode {
    kupgrade::plan::main()
}
