//! An export in S3 (`s3://bucket/prefix/export/`), brought to the state folder: each
//! billing period's newest manifest is read, and the data files it lists are copied
//! into `exports/<bucket>/<key>` (written whole, then renamed into place), once: a file
//! already copied with the same ETag is not fetched again. The copy keeps the export's
//! layout, so it is read as any export folder is (`lines::periods`), and `check-config`
//! reads it without a request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::DateTime;

use crate::config::S3Location;

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Synced {
    pub requests: u64,
    pub fetched: usize,
    pub fetched_bytes: u64,
    /// Data files already copied with the same ETag.
    pub kept: usize,
}

/// A failure talking to S3, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("s3://{bucket}/{key}: {message}")]
    Request {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An S3 client for `sdk`: path-style addressing when an endpoint is given in the
/// environment (a test server or a gateway cannot answer per-bucket host names).
pub fn client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3")
        .or_else(|| std::env::var_os("AWS_ENDPOINT_URL"))
        .is_some();
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// One object of a listing.
#[derive(Debug, Clone)]
struct Object {
    key: String,
    etag: String,
    modified: Option<DateTime>,
}

/// Brings the export at `at` into `local`: every period's newest manifest, and the
/// data files they list. A listed file S3 does not hold is left for `lines::periods` to
/// find missing.
pub async fn sync(
    client: &aws_sdk_s3::Client,
    at: &S3Location,
    local: &Path,
) -> Result<Synced, S3Error> {
    let mut synced = Synced::default();
    let request_error = |key: &str, e: &dyn std::error::Error| S3Error::Request {
        bucket: at.bucket.clone(),
        key: key.to_string(),
        message: crate::model::text::cap(&crate::model::text::error_line(e), 300),
    };
    let mut objects: BTreeMap<String, Object> = BTreeMap::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&at.bucket)
        .prefix(&at.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        synced.requests += 1;
        let page = page.map_err(|e| request_error(&at.prefix, &e))?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            objects.insert(
                key.to_string(),
                Object {
                    key: key.to_string(),
                    etag: o.e_tag().unwrap_or_default().to_string(),
                    modified: o.last_modified().copied(),
                },
            );
        }
    }
    // Each period's newest manifest.
    let mut manifests: BTreeMap<String, &Object> = BTreeMap::new();
    for o in objects.values() {
        let Some(rest) = o.key.strip_prefix(&at.prefix) else {
            continue;
        };
        let Some(period) = rest
            .strip_prefix("metadata/BILLING_PERIOD=")
            .and_then(|r| r.split('/').next())
        else {
            continue;
        };
        if !o.key.ends_with("Manifest.json") {
            continue;
        }
        let newer = manifests.get(period).is_none_or(|m| {
            (m.modified.map(|d| d.as_nanos()), &m.key) < (o.modified.map(|d| d.as_nanos()), &o.key)
        });
        if newer {
            manifests.insert(period.to_string(), o);
        }
    }
    if manifests.is_empty() {
        return Err(S3Error::Request {
            bucket: at.bucket.clone(),
            key: format!("{}metadata/", at.prefix),
            message: format!(
                "holds no BILLING_PERIOD=YYYY-MM/*Manifest.json among its {} objects; is the path the export's (s3://bucket/prefix/export-name/)?",
                objects.len()
            ),
        });
    }
    // The manifests are written to a folder of their own and swapped in once every data
    // file they list is here: a sync that fails half-way leaves the copy as it was, for
    // the next run to read.
    let fresh = local.join("metadata.new");
    let local_error = |path: &Path| {
        let path = path.to_path_buf();
        move |e| S3Error::Local { path, source: e }
    };
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(local_error(&fresh))?;
    }
    for (period, manifest) in &manifests {
        let body = get(client, at, &manifest.key, &mut synced).await?;
        let text = String::from_utf8_lossy(&body);
        let listed = super::lines::manifest_data_files(&text).map_err(|m| S3Error::Request {
            bucket: at.bucket.clone(),
            key: manifest.key.clone(),
            message: m,
        })?;
        for url in listed {
            let Some(at_data) = url.find("/data/") else {
                continue;
            };
            let relative = &url[at_data + 1..];
            let key = format!("{}{relative}", at.prefix);
            let Some(object) = objects.get(&key) else {
                // Not delivered (yet): the local copy lacks it, and the period is missing it.
                continue;
            };
            let path = local.join(relative);
            let etag_file = path.with_file_name(format!(
                "{}.etag",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            let kept = std::fs::read_to_string(&etag_file).is_ok_and(|t| t == object.etag)
                && path.is_file();
            if kept {
                synced.kept += 1;
                continue;
            }
            let body = get(client, at, &key, &mut synced).await?;
            synced.fetched += 1;
            synced.fetched_bytes += body.len() as u64;
            write_whole(&path, &body)?;
            write_whole(&etag_file, object.etag.as_bytes())?;
        }
        let name = manifest
            .key
            .rsplit('/')
            .next()
            .unwrap_or("Manifest.json")
            .to_string();
        write_whole(
            &fresh.join(format!("BILLING_PERIOD={period}/{name}")),
            &body,
        )?;
    }
    // The copy holds only the newest manifest of each period.
    let metadata = local.join("metadata");
    if metadata.exists() {
        std::fs::remove_dir_all(&metadata).map_err(local_error(&metadata))?;
    }
    std::fs::rename(&fresh, &metadata).map_err(local_error(&metadata))?;
    Ok(synced)
}

async fn get(
    client: &aws_sdk_s3::Client,
    at: &S3Location,
    key: &str,
    synced: &mut Synced,
) -> Result<Vec<u8>, S3Error> {
    let error = |message: String| S3Error::Request {
        bucket: at.bucket.clone(),
        key: key.to_string(),
        message,
    };
    synced.requests += 1;
    let out = client
        .get_object()
        .bucket(&at.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            error(crate::model::text::cap(
                &crate::model::text::error_line(&e),
                300,
            ))
        })?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| error(format!("reading the object: {e}")))?;
    Ok(body.into_bytes().to_vec())
}

/// `bytes` written whole at `path` (`source::write_whole`).
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), S3Error> {
    super::write_whole(path, bytes).map_err(|e| S3Error::Local {
        path: path.to_path_buf(),
        source: e,
    })
}
