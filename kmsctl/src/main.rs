//! kmsctl: a command-line client for kmsd shaped like `aws kms`. All of it
//! lives in the library (the `kmsctl` crate's lib.rs); this binary only
//! runs it.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    kmsctl::main()
}
