//! `kubectl upgrade-plan`: a thin entry point; everything lives in the `kupgrade` library.

fn main() -> std::process::ExitCode {
    // First thing: no panic may print a backtrace, not even while parsing arguments.
    kupgrade::run::install_panic_hook();
    kupgrade::plan::main()
}
