//! hsm-sim: one node of a simulated HSM cluster (see README "HSM key
//! stores" and docs/hsm.md).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    eprintln!("hsm-sim: not implemented yet");
    std::process::ExitCode::FAILURE
}
