//! kms-bench: a load generator for kmsd (gRPC, mutual TLS). All of it
//! lives in the library (`kmsd::bench`); this binary only runs it.

fn main() -> std::process::ExitCode {
    kmsd::bench::main()
}
