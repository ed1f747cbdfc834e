//! Where the cost data comes from: the query plan, a recording replayed through the SDK's
//! own deserializer, the bill's line items (a CUR 2.0 or FOCUS export), or Cost Explorer itself (the only layer that talks to AWS), and the
//! integrity checks every answer passes before it is cached or tabled.

pub mod athena;
pub mod aws;
pub mod integrity;
pub mod lines;
pub mod plan;
pub mod recording;
pub mod s3;

/// `bytes` written to a temporary file beside `path`, synced, and renamed into place: a
/// reader never sees half a file (the S3 copy, the kept Athena results).
pub(crate) fn write_whole(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
