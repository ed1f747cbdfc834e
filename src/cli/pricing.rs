//! `creditburn pricing`: `import` builds a price table from the AWS Price List's files,
//! offline; `show` prints the prices a run uses (the shipped table, the table of one's
//! own over it, the overrides over both).

use super::*;

/// The most creditburn reads of one offer file (AmazonBedrock's us-east-1 file is tens
/// of MiB).
const MAX_OFFER_FILE: u64 = 512 << 20;

/// A file named on the command line that cannot be read as an offer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("{}: no such file; give the path of a downloaded offer file (.../offers/v1.0/aws/AmazonBedrock/current/<region>/index.json) or of saved `aws pricing get-products` output", path.display())]
    Missing { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Offer(#[from] crate::pricing::offer::OfferError),
    #[error("{}: cannot write the table: {source}", path.display())]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(super) fn import(
    files: &[PathBuf],
    out: Option<&Path>,
    checked: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let mut read = Vec::new();
    for path in files {
        let bytes = crate::read_bounded(path, MAX_OFFER_FILE).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => InputError::Missing { path: path.clone() },
            _ => InputError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        read.push((path.display().to_string(), bytes));
    }
    let checked = checked.unwrap_or_else(|| Utc::now().date_naive());
    let imported = crate::pricing::offer::import(&read, checked).map_err(InputError::from)?;
    drop(read);
    let skipped: u64 = imported.skipped.values().map(|n| *n as u64).sum();
    say!(
        "read {}: {}, {} imported, {} skipped",
        count(files.len() as u64, "file", "files"),
        count(imported.products as u64, "product", "products"),
        count(imported.table.len() as u64, "token price", "token prices"),
        skipped
    );
    for (why, n) in &imported.skipped {
        say!("  skipped {n}: {why}");
    }
    for c in &imported.conflicts {
        say!("warning: two products price the same key differently: {c}");
    }
    if imported.table.is_empty() {
        return Err(crate::pricing::offer::OfferError {
            file: files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            message: "hold no Bedrock token price; are they the AmazonBedrock, AmazonBedrockFoundationModels or AmazonBedrockService offers?".into(),
        }
        .into());
    }
    let text = format!(
        "# Imported by `creditburn pricing import` from {} on {checked}.\n# Layer it over the shipped table with [pricing] table = \"<this file>\".\n{}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        imported.table.to_toml()
    );
    match out {
        None => print!("{text}"),
        Some(path) => {
            // Written beside, then renamed: a table half written is never read.
            let tmp = path.with_extension("toml.partial");
            std::fs::write(&tmp, &text)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| InputError::Unwritable {
                    path: path.to_path_buf(),
                    source: e,
                })?;
            say!("wrote {}", path.display());
        }
    }
    Ok(())
}

pub(super) fn show(common: &Common) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    say!(
        "{} prices over {} models: the shipped table{}{}",
        config.prices.len(),
        config.prices.models().len(),
        config
            .pricing
            .table
            .as_ref()
            .map(|t| format!(", {} over it", t.display()))
            .unwrap_or_default(),
        if config.pricing.overrides.is_empty() {
            String::new()
        } else {
            format!(
                ", {}",
                count(
                    config.pricing.overrides.len() as u64,
                    "override",
                    "overrides"
                )
            )
        }
    );
    print!("{}", config.prices.to_toml());
    Ok(())
}
