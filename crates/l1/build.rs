//! Compiles `contracts/` with solcjs (npm `solc`, pinned in
//! contracts/package-lock.json) into OUT_DIR/contracts/<Name>.json, which
//! `sol!` reads. Installs the npm packages first when they are missing.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let contracts = manifest.join("../../contracts");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("contracts");
    for entry in [
        "src",
        "test",
        "build.js",
        "package.json",
        "package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={}", contracts.join(entry).display());
    }
    for dir in ["src", "test"] {
        if let Ok(files) = std::fs::read_dir(contracts.join(dir)) {
            for file in files.flatten() {
                println!("cargo:rerun-if-changed={}", file.path().display());
            }
        }
    }
    if !contracts.join("node_modules/solc").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&contracts),
            "npm ci in contracts/ (node and npm are needed to build lakh-l1)",
        );
    }
    run(
        Command::new("node")
            .arg(contracts.join("build.js"))
            .arg(&out),
        "node contracts/build.js (node is needed to build lakh-l1)",
    );
}

fn run(command: &mut Command, what: &str) {
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what} failed: {status}"),
        Err(e) => panic!("{what} could not start: {e}"),
    }
}
