//! `kubectl health`: a thin entry point; everything lives in the `kupgrade` library.

fn main() -> std::process::ExitCode {
    kupgrade::health::main()
}
