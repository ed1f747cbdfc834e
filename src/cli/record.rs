//! `creditburn record`: the query plan fetched live and written as a recording.

use super::*;

pub(super) fn record(common: &Common, out: &std::path::Path, scrub: bool) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    let SourceConfig::Aws(source) = &config.source else {
        return Err(Misconfigured(format!(
            "{}: source.kind is {:?}; record needs source.kind = \"aws\" (it records Cost Explorer's answers)",
            common.config.display(),
            config.source.kind()
        ))
        .into());
    };
    // Before any request is paid for.
    recording::check_out(out)?;
    let now = common.now.unwrap_or_else(Utc::now);
    let as_of = common.as_of.unwrap_or(now.date_naive());
    let queries = plan::queries(&config);
    let window = plan::history(&config, as_of, now.date_naive()).fetchable();
    let mut budget = aws::RequestBudget {
        limit: common.max_requests.or(source.max_requests),
        made: 0,
    };
    let mut progress = super::progress::FetchProgress::new();
    let fetched = runtime()?.block_on(async {
        let sdk = aws::connect(source, common.profile.as_deref()).await?;
        Ok::<_, anyhow::Error>(
            aws::record(
                &aws::CostExplorer::new(&sdk),
                &queries,
                window,
                &mut budget,
                &mut |p| progress.page(p),
            )
            .await,
        )
    })?;
    progress.finish();
    say!(
        "cost explorer: {} (${:.2})",
        count(budget.made, "request", "requests"),
        budget.cost()
    );
    let fetched = fetched
        .map_err(|(query, e)| aws::Unavailable(format!("{query}: {e}; nothing was written")))?;
    let map = recording::write(out, &fetched, scrub)?;
    for (real, fake) in &map.accounts {
        say!("scrubbed account {real} -> {fake}");
    }
    for ((key, real), fake) in &map.tag_values {
        say!("scrubbed tag {key}={real} -> {key}={fake}");
    }
    let pages: usize = fetched.iter().map(|(_, p)| p.len()).sum();
    say!(
        "wrote {} of {} ({} to {}) to {}",
        count(pages as u64, "page", "pages"),
        count(fetched.len() as u64, "query", "queries"),
        window.0,
        window.1,
        out.display()
    );
    Ok(())
}
