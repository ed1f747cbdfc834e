//! `creditburn credits`: the account's credits per the Billing API, and `--adopt`.

use super::*;

pub(super) fn credits(common: &Common, adopt: bool) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    let snapshot = read_credits(&config, common)?;
    if adopt {
        let unclaimed = crate::analyse::analysis::unclaimed(&config.awards, &snapshot.credits);
        if unclaimed.is_empty() {
            say!("every credit on the account is named by an award");
        }
        print!("{}", crate::analyse::credits::adoption_toml(&unclaimed));
    } else {
        print!(
            "{}",
            crate::analyse::report::credits_table(&snapshot, &config.awards)
        );
    }
    Ok(())
}

/// The account's credits for `creditburn credits`: fresh, or the newest stored snapshot
/// when the Billing API cannot be reached.
pub(super) fn read_credits(config: &Config, common: &Common) -> anyhow::Result<AwsCredits> {
    let SourceConfig::Aws(source) = &config.source else {
        return Err(Misconfigured(format!(
            "{}: source.kind is {:?}; reading credits from the Billing API needs source.kind = \"aws\" and source.account_id{}",
            common.config.display(),
            config.source.kind(),
            if matches!(config.source, SourceConfig::Fixtures { .. }) {
                ""
            } else {
                " (the credits an export's Credit lines applied are in the report: `credits applied by AWS`)"
            }
        )).into());
    };
    if source.account_id.is_none() {
        return Err(Misconfigured(format!(
            "{}: source.account_id is not set; name the 12-digit account whose credits to read",
            common.config.display()
        ))
        .into());
    }
    let now = common.now.unwrap_or_else(Utc::now);
    let store = Cache::open(&config.state_path)?;
    let refresh = runtime()?
        .block_on(async {
            let sdk = aws::connect(source, common.profile.as_deref()).await?;
            Ok::<_, anyhow::Error>(
                aws::refresh_source_credits(&sdk, &store, source, &config.awards, now).await?,
            )
        })?
        .unwrap_or_default();
    match (refresh.snapshot, refresh.failure) {
        (Some(snapshot), None) => Ok(snapshot),
        (Some(snapshot), Some(e)) => {
            say!(
                "warning: credits: {e}; showing the snapshot of {}",
                snapshot.fetched_at
            );
            Ok(snapshot)
        }
        (None, Some(e)) => Err(aws::Unavailable(format!(
            "credits: {e}; no snapshot in {}",
            store.path().display()
        ))
        .into()),
        (None, None) => Err(aws::Unavailable("credits: nothing was read".into()).into()),
    }
}
