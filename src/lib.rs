//! creditburn: how a company's AWS credit awards are burning, every day and in money.
//!
//! See ARCHITECTURE.md for the map. The binary (`main.rs`) only calls [`cli::main`].

pub mod analyse;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod model;
pub mod notify;
pub mod pricing;
pub mod source;
pub mod store;

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by
/// `_`: safe as a file name on every platform.
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A test hook: when the environment variable `CREDITBURN_FAILPOINT` names `step`, the
/// process aborts there, as a kill would. The kill tests use it to stop a run at each
/// step of delivery; it does nothing otherwise.
pub(crate) fn failpoint(step: &str) {
    if std::env::var("CREDITBURN_FAILPOINT").as_deref() == Ok(step) {
        eprintln!("failpoint {step}: aborting");
        std::process::abort();
    }
}

/// Why a folder cannot take files.
#[derive(Debug)]
pub(crate) enum Unwritable {
    NotAFolder,
    Create(std::io::Error),
    Write(std::io::Error),
}

/// Makes sure `dir` is a folder creditburn can write (creating it when missing), by
/// writing and removing a probe file: checked before a run commits anything or pays for
/// a request.
pub(crate) fn writable_folder(dir: &std::path::Path) -> Result<(), Unwritable> {
    if dir.exists() && !dir.is_dir() {
        return Err(Unwritable::NotAFolder);
    }
    std::fs::create_dir_all(dir).map_err(Unwritable::Create)?;
    let probe = dir.join(".creditburn-write-check");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(Unwritable::Write)
}

/// The most creditburn reads of one recorded page or manifest.
pub(crate) const MAX_RECORDING_FILE: u64 = 64 << 20;
/// The most creditburn reads of a config file.
pub(crate) const MAX_CONFIG_FILE: u64 = 4 << 20;
/// The most creditburn reads of a password or CA file.
pub(crate) const MAX_SECRET_FILE: u64 = 1 << 20;

/// Reads `path`, at most `limit` bytes: a larger (or endless, like /dev/zero) file is an
/// error naming the limit, never a hang.
pub(crate) fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "is larger than {} MiB, the most creditburn reads from such a file",
                limit >> 20
            ),
        ));
    }
    Ok(bytes)
}
