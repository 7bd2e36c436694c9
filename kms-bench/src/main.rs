//! kms-bench: a load generator for kmsd (gRPC, mutual TLS). All of it
//! lives in the library (the `kms_bench` crate); this binary only runs it.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    kms_bench::main()
}
