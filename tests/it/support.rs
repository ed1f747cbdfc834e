//! Shared helpers: the demo config with its paths pointed into a temporary folder, and
//! running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config rewritten to read `recording` and write into `dir`.
pub fn demo_config(dir: &Path, recording: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/example.toml")).unwrap();
    let text = text
        .replace(
            "\"../fixtures/demo\"",
            &format!("{:?}", recording.display().to_string()),
        )
        .replace(
            "\"../outbox\"",
            &format!("{:?}", dir.join("outbox").display().to_string()),
        )
        .replace(
            "\"../state\"",
            &format!("{:?}", dir.join("state").display().to_string()),
        );
    let path = dir.join("creditburn.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn creditburn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(args)
        .output()
        .expect("the creditburn binary runs")
}

/// Copies a recording folder so a test can damage its copy.
pub fn copy_recording(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
