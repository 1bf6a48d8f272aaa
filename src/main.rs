//! The `countersign` command: parses the command line and dispatches.

fn main() -> std::process::ExitCode {
    countersign::cli::main()
}
