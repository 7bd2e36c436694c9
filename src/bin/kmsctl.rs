//! kmsctl: a command-line client for kmsd shaped like `aws kms`. All of it
//! lives in the library (`kmsd::ctl`); this binary only runs it.

fn main() -> std::process::ExitCode {
    kmsd::ctl::main()
}
