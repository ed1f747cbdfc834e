//! The `creditburn` binary: everything lives in the library; see `cli::main`.

fn main() -> std::process::ExitCode {
    creditburn::cli::main()
}
