//! The data a command works on: the config, the cost table (from a recording, or the
//! cache refreshed from Cost Explorer), the report.

use super::*;
use crate::config::ExportLocation;

/// What the source gave: the cost table, `as_of`, where the data came from, and AWS's
/// credits when they were read.
type Loaded = (CostTable, NaiveDate, SourceStatus, Option<AwsCredits>);

/// Loads config and data and computes the report: everything but delivery.
pub(super) fn prepare(common: &Common) -> anyhow::Result<(Config, Report)> {
    let (config, report, _) = prepare_with_table(common)?;
    Ok((config, report))
}

/// As [`prepare`], keeping the cost table (`export --table tokens` reads it by day).
pub(super) fn prepare_with_table(common: &Common) -> anyhow::Result<(Config, Report, CostTable)> {
    let config = config::load(&common.config)?;
    let (table, as_of, source, aws_credits) = load_table(&config, common)?;
    // The last day of data the last run analysed: the spike check looks back over the
    // days since. A saved report that cannot be read only costs the wider look-back.
    let last_run = DaemonState::last_analysed_day(&config.state_path).unwrap_or_else(|e| {
        say!("warning: the last run's report: {e}; checking the last days for spikes only");
        None
    });
    let mut report =
        crate::analyse::report::assess(&table, &config, as_of, aws_credits.as_ref(), last_run)
            .context("analysing the cost table")?;
    report.source = source;
    report.deliveries = Outbox::read_deliveries(&config.state_path)?;
    Ok((config, report, table))
}

/// Reads the configured source.
pub(super) fn load_table(config: &Config, common: &Common) -> anyhow::Result<Loaded> {
    match &config.source {
        SourceConfig::Fixtures { path } => {
            let pages = runtime()?.block_on(recording::replay(path))?;
            let table = table::normalise_for(&pages, table::Needs::of(config))?;
            say!(
                "read {} from {}: {} to {}, {} rows",
                count(pages.len() as u64, "page", "pages"),
                path.display(),
                table.first_day,
                table.last_day,
                table.df.height()
            );
            let as_of = common.as_of.unwrap_or(table.last_day);
            let status = SourceStatus {
                kind: "fixtures".into(),
                ..SourceStatus::default()
            };
            Ok((table, as_of, status, None))
        }
        SourceConfig::Aws(source) => load_live(config, source, common),
        SourceConfig::Export(source) => {
            let mut stale = Vec::new();
            let root = match &source.location {
                ExportLocation::Local(path) => path.clone(),
                ExportLocation::S3(at) => sync_export(config, source, at, common, &mut stale)?,
            };
            let (table, mut status) = export_table(config, source, &root)?;
            status.stale_reasons.splice(0..0, stale);
            status.stale = !status.stale_reasons.is_empty();
            let as_of = common.as_of.unwrap_or(table.last_day);
            Ok((table, as_of, status, None))
        }
        SourceConfig::Athena(source) => {
            let now = common.now.unwrap_or_else(Utc::now);
            let as_of = common.as_of.unwrap_or(now.date_naive());
            let (table, status) = match athena_table(config, source, common, as_of, false)? {
                Ok(read) => read,
                Err(why) => return Err(aws::Unavailable(why).into()),
            };
            Ok((table, as_of, status, None))
        }
    }
}

/// The cost table from the CUR 2.0 table in Athena: one aggregate query per billing
/// period the window needs (`source::athena`), a closed period's kept result read
/// without a query. `offline`: no query at all, the kept results only. Err(why) when a
/// period has neither a result nor a kept one.
pub(super) fn athena_table(
    config: &Config,
    source: &crate::config::AthenaSource,
    common: &Common,
    as_of: NaiveDate,
    offline: bool,
) -> anyhow::Result<Result<(CostTable, SourceStatus), String>> {
    use crate::source::{athena, lines};
    let now = common.now.unwrap_or_else(Utc::now);
    let (start, end) = plan::history(config, as_of, now.date_naive()).needed();
    let wants = lines::Wants::of(config);
    let (principals, resources) = config.rule_globs();
    let tag_count = wants.tag_keys.len();
    let mut fold =
        crate::analyse::lines::LineFold::for_rules(crate::model::line::ExportFormat::Cur, config);
    let mut scanned = athena::Scanned::default();
    let mut stale_reasons = Vec::new();
    let mut client = None;
    let rt = runtime()?;
    for (from, _) in plan::months(start, end) {
        let period = from.format("%Y-%m").to_string();
        let sql = athena::query(source, &wants, &principals, &resources, &period);
        let template = athena::query(source, &wants, &principals, &resources, "");
        let kept_path = athena::kept_path(&config.state_path, &template, &period);
        let kept = athena::read_kept(&kept_path);
        let rows = match kept {
            Some(rows) if offline || athena::closed(&rows, tag_count) => {
                scanned.kept += 1;
                rows
            }
            _ if offline => {
                return Ok(Err(format!(
                    "no result of billing period {period} is kept in {} yet (no query is made; run `creditburn run` first)",
                    config.state_path.display()
                )))
            }
            kept if source
                .max_scanned_bytes
                .is_some_and(|cap| scanned.bytes >= cap) =>
            {
                let why = format!(
                    "billing period {period}: not queried, this run has scanned {} MB, its cap (source.max_scanned_gb)",
                    scanned.bytes / 1_000_000
                );
                match kept {
                    Some(rows) => {
                        stale_reasons.push(format!("{why}; its figures are the kept result's"));
                        rows
                    }
                    None => return Ok(Err(format!("{why}, and no result of it is kept"))),
                }
            }
            kept => {
                if client.is_none() {
                    let sdk = rt.block_on(aws::connect(&source.aws, common.profile.as_deref()))?;
                    client = Some(athena::client(&sdk));
                }
                let ran = rt.block_on(athena::run_query(
                    client.as_ref().expect("connected"),
                    source,
                    &sql,
                    &period,
                    athena::Polling::default(),
                    &mut scanned,
                ));
                match (ran, kept) {
                    (Ok(rows), _) => {
                        athena::keep(&kept_path, &rows)?;
                        rows
                    }
                    (Err(e @ athena::AthenaError::Local { .. }), _) => return Err(e.into()),
                    (Err(e), Some(rows)) => {
                        say!("warning: {e}; using the kept result");
                        stale_reasons.push(format!("{e}; its figures are the kept result's"));
                        rows
                    }
                    (Err(e), None) => {
                        return Ok(Err(format!(
                            "{e}; no result of it is kept to fall back on; check the database, table and workgroup, the network and the credentials (deploy/iam-policy.json), the next run tries again"
                        )))
                    }
                }
            }
        };
        athena::emit(&rows, tag_count, &period, &mut |line| fold.add(line))?;
    }
    let table = fold.finish()?;
    say!(
        "athena: {} ({} MB scanned, ${:.2}), {} kept; cost table: {} rows, {} to {}",
        count(scanned.queries, "query", "queries"),
        scanned.bytes / 1_000_000,
        scanned.cost,
        count(scanned.kept as u64, "period", "periods"),
        table.df.height(),
        table.first_day,
        table.last_day
    );
    Ok(Ok((
        table,
        SourceStatus {
            kind: "athena".into(),
            requests: scanned.requests,
            request_cost: scanned.cost,
            bytes_scanned: Some(scanned.bytes),
            stale: !stale_reasons.is_empty(),
            stale_reasons,
        },
    )))
}

/// Brings an export in S3 into the state folder (`source::s3`); returns the copy's
/// folder. A failed sync with a copy from before reads that copy and says the data is
/// stale (in `stale`); without one it is the run's failure (exit 69).
fn sync_export(
    config: &Config,
    source: &crate::config::ExportSource,
    at: &crate::config::S3Location,
    common: &Common,
    stale: &mut Vec<String>,
) -> anyhow::Result<PathBuf> {
    use crate::source::s3;
    let local = at.local(&config.state_path);
    let synced = runtime()?.block_on(async {
        let sdk = aws::connect(&source.aws, common.profile.as_deref()).await?;
        let client = s3::client(&sdk);
        Ok::<_, anyhow::Error>(s3::sync(&client, at, &local).await?)
    });
    match synced {
        Ok(s) => say!(
            "s3://{}/{}: {} ({} fetched, {} MB; {} unchanged), copy in {}",
            at.bucket,
            at.prefix,
            count(s.requests, "request", "requests"),
            s.fetched,
            s.fetched_bytes / 1_000_000,
            s.kept,
            local.display()
        ),
        // Credentials missing (78) or the state folder not writable (73) are not S3's
        // to fix: no copy from before stands in for them.
        Err(e)
            if e.is::<aws::NoCredentials>()
                || matches!(e.downcast_ref::<s3::S3Error>(), Some(s3::S3Error::Local { .. })) =>
        {
            return Err(e)
        }
        Err(e) if local.join("metadata").is_dir() => {
            say!("warning: {e:#}; reading the copy from before");
            stale.push(format!(
                "the export in S3: {e:#}; the figures are from the copy made before"
            ));
        }
        Err(e) => {
            return Err(aws::Unavailable(format!(
                "{e:#}; no copy of the export in {} to fall back on; check the path, the network and the credentials (s3:ListBucket and s3:GetObject, deploy/iam-policy.json), the next run tries again",
                local.display()
            ))
            .into())
        }
    }
    Ok(local)
}

/// The cost table of a line-item export at `root`, and what the source says of itself:
/// which billing periods were left out as partly delivered.
pub(super) fn export_table(
    config: &Config,
    source: &crate::config::ExportSource,
    root: &Path,
) -> anyhow::Result<(CostTable, SourceStatus)> {
    use crate::source::lines;
    let periods = lines::periods(root)?;
    let wants = lines::Wants::of(config);
    let mut fold = crate::analyse::lines::LineFold::for_rules(source.format, config);
    let mut counts = lines::ReadCounts::default();
    let mut stale_reasons = Vec::new();
    let newest = periods.last().map(|p| p.name.clone());
    for period in &periods {
        if !period.missing.is_empty() {
            let why = format!(
                "billing period {}: its manifest lists {} that {} not there ({}); the export is still being delivered, so the period is left out rather than read short",
                period.name,
                count((period.files.len() + period.missing.len()) as u64, "file", "files"),
                if period.missing.len() == 1 { "is" } else { "are" },
                crate::model::text::cap(&period.missing.join(", "), 300),
            );
            if Some(&period.name) != newest.as_ref() {
                // A hole before data that is there would read as days of no spend.
                anyhow::bail!(SourceError::Invalid {
                    path: root.to_path_buf(),
                    message: format!("{why}; a period before the newest cannot be left out without reading its days as zero: sync the export again"),
                });
            }
            say!("warning: {why}");
            stale_reasons.push(why);
            continue;
        }
        lines::read(
            source.format,
            &period.files,
            &wants,
            &mut counts,
            &mut |line| fold.add(line),
        )?;
    }
    fold.saw_columns(counts.principal_column, counts.resource_column);
    let table = fold.finish()?;
    say!(
        "read {} from {} ({}, {} MB): {}{}, {} to {}, {} rows",
        count(counts.line_items, "line item", "line items"),
        root.display(),
        count(counts.files as u64, "file", "files"),
        counts.bytes / 1_000_000,
        count(periods.len() as u64, "billing period", "billing periods"),
        if counts.other_providers > 0 {
            format!(
                ", {} of other providers left out",
                count(counts.other_providers, "row", "rows")
            )
        } else {
            String::new()
        },
        table.first_day,
        table.last_day,
        table.df.height()
    );
    let status = SourceStatus {
        kind: source.format.as_str().into(),
        bytes_scanned: None,
        stale: !stale_reasons.is_empty(),
        stale_reasons,
        ..SourceStatus::default()
    };
    Ok((table, status))
}

/// The report without any AWS request or anything written (`what-if`, `plan`): the
/// config, the report as of `--as-of` (the recording's last day, or today for a live
/// source, as `report` takes it), a phrase naming the data, and that day.
pub(super) fn offline_report(
    common: &Common,
) -> anyhow::Result<(Config, Report, String, NaiveDate)> {
    let config = config::load(&common.config)?;
    let (table, described, aws) = match offline_table(&config, common, true)? {
        Ok(found) => found,
        Err(why) => return Err(aws::Unavailable(why).into()),
    };
    let as_of = common.as_of.unwrap_or(match &config.source {
        SourceConfig::Fixtures { .. } | SourceConfig::Export(_) => table.last_day,
        SourceConfig::Aws(_) | SourceConfig::Athena(_) => {
            common.now.unwrap_or_else(Utc::now).date_naive()
        }
    });
    let report = crate::analyse::report::assess(&table, &config, as_of, aws.as_ref(), None)
        .context("analysing the cost table")?;
    Ok((config, report, described, as_of))
}

/// The cost table without any AWS request or anything written: the recording, or the
/// cached days of a live source (read-only); with `credits`, the newest Billing snapshot
/// the cache holds too. A phrase naming the data comes with it; Err(why) when there is
/// no data to read.
pub(super) type Offline = (CostTable, String, Option<AwsCredits>);

pub(super) fn offline_table(
    config: &Config,
    common: &Common,
    credits: bool,
) -> anyhow::Result<Result<Offline, String>> {
    match &config.source {
        SourceConfig::Fixtures { path } => {
            let pages = runtime()?.block_on(recording::replay(path))?;
            Ok(Ok((
                table::normalise_for(&pages, table::Needs::of(config))?,
                format!("the recording {}", path.display()),
                None,
            )))
        }
        SourceConfig::Aws(source) => {
            let file = config.state_path.join(crate::store::FILE_NAME);
            if !file.exists() {
                return Ok(Err(format!(
                    "no cached cost data yet in {} (no AWS request is made; run `creditburn run` first)",
                    file.display()
                )));
            }
            let now = common.now.unwrap_or_else(Utc::now);
            let as_of = common.as_of.unwrap_or(now.date_naive());
            let queries = plan::queries(config);
            let window = plan::history(config, as_of, now.date_naive()).needed();
            let mut store = match Cache::open_read_only(&config.state_path) {
                Ok(store) => store,
                Err(e) => return Ok(Err(format!("the cache cannot be read: {e}"))),
            };
            let needs = table::Needs::of(config);
            let table = match cached_table(&mut store, &queries, needs, window, &runtime()?) {
                Ok(read) => read,
                // Data that cannot be tabled is the data's problem, as from a recording.
                Err(e) if e.is::<table::TableError>() => return Err(e),
                Err(e) => return Ok(Err(format!("the cache cannot be read: {e:#}"))),
            };
            let table = match table {
                Ok(table) => table,
                Err(missing) => {
                    return Ok(Err(format!(
                        "the cache {} holds nothing for {} yet (no AWS request is made)",
                        file.display(),
                        missing.join(", ")
                    )))
                }
            };
            let aws = match (&source.account_id, credits) {
                (Some(account), true) => store.latest_credits(account)?,
                _ => None,
            };
            Ok(Ok((
                table,
                format!(
                    "the cached data in {} (no AWS request made)",
                    file.display()
                ),
                aws,
            )))
        }
        SourceConfig::Export(source) => {
            let root = match &source.location {
                ExportLocation::Local(path) => path.clone(),
                ExportLocation::S3(at) => {
                    let local = at.local(&config.state_path);
                    if !local.join("metadata").is_dir() {
                        return Ok(Err(format!(
                            "no copy of the export s3://{}/{} in {} yet (no AWS request is made; run `creditburn run` first)",
                            at.bucket,
                            at.prefix,
                            local.display()
                        )));
                    }
                    local
                }
            };
            let (table, _) = export_table(config, source, &root)?;
            Ok(Ok((
                table,
                format!("the {} export {}", source.format.as_str(), root.display()),
                None,
            )))
        }
        SourceConfig::Athena(source) => {
            let now = common.now.unwrap_or_else(Utc::now);
            let as_of = common.as_of.unwrap_or(now.date_naive());
            Ok(
                athena_table(config, source, common, as_of, true)?.map(|(table, _)| {
                    (
                        table,
                        format!(
                            "the kept Athena results of {}.{} (no query made)",
                            source.database, source.table
                        ),
                        None,
                    )
                }),
            )
        }
    }
}

/// The cost table of every query's cached days in `[start, end)`, or the queries the
/// cache holds nothing for. Built a calendar month at a time: a month's decoded pages are
/// dropped before the next month's are read, so the pages of a year are never all in
/// memory at once. A month's table is kept in the store once built, and read back on the
/// next run instead of decoding its pages again while none of its days is fetched anew
/// (`Cache::store` deletes the parts whose days it changes).
pub(super) fn cached_table<'q>(
    store: &mut Cache,
    queries: &'q [plan::Query],
    needs: table::Needs,
    (start, end): (NaiveDate, NaiveDate),
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Result<CostTable, Vec<&'q str>>> {
    let mut missing = Vec::new();
    for query in queries.iter().filter(|q| !q.joint()) {
        if !store.holds_days(&query.name, start, end)? {
            missing.push(query.name.as_str());
        }
    }
    if !missing.is_empty() {
        return Ok(Err(missing));
    }
    // What a part was built from besides its days: the layout of the table, the splits it
    // makes and the query plan.
    let plan_key = format!(
        "creditburn {} table {} {:?}; {}",
        env!("CARGO_PKG_VERSION"),
        table::TABLE_LAYOUT,
        needs,
        queries
            .iter()
            .map(|q| format!("{}:{:?}", q.name, q.scope))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut table = table::TableBuilder::new(needs);
    for (from, next) in plan::months(start, end) {
        if let Some(part) = store
            .table_part(from, next, &plan_key)
            .and_then(|bytes| table::TableBuilder::decode(&bytes))
        {
            table.merge(part);
            continue;
        }
        let read_at = store.data_version()?;
        let mut pages = Vec::new();
        for query in queries {
            let Some(body) = store.response_body(&query.name, from, next)? else {
                continue;
            };
            let output =
                rt.block_on(recording::decode_body(body))
                    .map_err(|m| SourceError::Invalid {
                        path: store.path().to_path_buf(),
                        message: format!(
                            "cached {}: {}",
                            query.name,
                            crate::model::text::excerpt(&m)
                        ),
                    })?;
            pages.push(CostPage {
                query: query.name.clone(),
                file: store.path().to_path_buf(),
                scope: query.scope,
                output,
            });
        }
        let mut part = table::TableBuilder::new(needs);
        part.add(&pages)?;
        drop(pages);
        if let Some(bytes) = part.encode() {
            // Only a shortcut for the next run: a part not kept costs that run the decoding.
            if let Err(e) = store.keep_table_part(from, next, &plan_key, &bytes, read_at) {
                say!("warning: keeping the cost table of {from} to {next}: {e}");
            }
        }
        table.merge(part);
    }
    Ok(Ok(table.finish()?))
}

/// The live path: refresh the cache from Cost Explorer, then read every query back from
/// the cache, so fresh and cached days take one road to the table.
pub(super) fn load_live(
    config: &Config,
    source: &crate::config::AwsSource,
    common: &Common,
) -> anyhow::Result<Loaded> {
    let now = common.now.unwrap_or_else(Utc::now);
    let as_of = common.as_of.unwrap_or(now.date_naive());
    let queries = plan::queries(config);
    let window = plan::history(config, as_of, now.date_naive());
    let (start, end) = window.needed();
    let mut store = Cache::open(&config.state_path)?;
    let freshness = Freshness {
        min_refresh: source.min_refresh(),
        recent_days: source.recent_days,
        ..Freshness::default()
    };
    let rt = runtime()?;
    let mut progress = super::progress::FetchProgress::new();
    let (refresh, credits) = rt.block_on(async {
        let sdk = aws::connect(source, common.profile.as_deref()).await?;
        let client = aws::CostExplorer::new(&sdk);
        let refresh = aws::refresh(
            &client,
            &mut store,
            &queries,
            window.fetchable(),
            aws::RefreshPolicy {
                now,
                freshness: &freshness,
                max_requests: common.max_requests.or(source.max_requests),
            },
            &mut |p| progress.page(p),
        )
        .await?;
        progress.finish();
        let credits =
            aws::refresh_source_credits(&sdk, &store, source, &config.awards, now).await?;
        Ok::<_, anyhow::Error>((refresh, credits))
    })?;
    if let Some(c) = &credits {
        match (&c.failure, &c.snapshot) {
            (Some(e), Some(s)) => say!(
                "warning: credits: {e}; using the snapshot of {}",
                s.fetched_at
            ),
            (Some(e), None) => say!("warning: credits: {e}; no snapshot to fall back on"),
            (None, Some(s)) => say!(
                "credits: {} on the account (read {}, {})",
                s.credits.len(),
                s.fetched_at,
                count(c.requests, "billing request", "billing requests")
            ),
            (None, None) => {}
        }
    }
    for (query, from, to, days) in &refresh.fetched {
        say!("fetched {query}: {from} to {to}, {days} days");
    }
    for (query, e) in &refresh.failures {
        say!("warning: {query}: {e}; using cached days");
    }
    say!(
        "cost explorer: {} (${:.2}), cache {}",
        count(refresh.budget.made, "request", "requests"),
        refresh.budget.cost(),
        store.path().display()
    );

    let table = match cached_table(
        &mut store,
        &queries,
        table::Needs::of(config),
        (start, end),
        &rt,
    )? {
        Ok(table) => table,
        Err(missing) => {
            // Each cause once, with the queries it stopped.
            let mut why: Vec<(String, Vec<&str>)> = Vec::new();
            for (q, e) in &refresh.failures {
                let text = e.to_string();
                match why.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, queries)) => queries.push(q),
                    None => why.push((text, vec![q])),
                }
            }
            let why: Vec<String> = why
                .iter()
                .map(|(text, queries)| format!("{}: {text}", queries.join(", ")))
                .collect();
            return Err(aws::Unavailable(crate::model::text::cap(
                &format!(
                    "no cost data for {} from {start} in the cache {} and the fetch did not bring it ({}); check the network, the endpoint and the credentials, the next run tries again",
                    missing.join(", "),
                    store.path().display(),
                    if why.is_empty() {
                        "no request was allowed".to_string()
                    } else {
                        why.join("; ")
                    }
                ),
                700,
            ))
            .into());
        }
    };
    say!(
        "cost table: {} rows, {} to {}",
        table.df.height(),
        table.first_day,
        table.last_day
    );
    let mut stale_reasons = Vec::new();
    for query in &queries {
        let failure = refresh
            .failures
            .iter()
            .find(|(q, _)| *q == query.name)
            .map(|(_, e)| e);
        if let Some(reason) = cache_gap(&store, &query.name, &table, end, failure)? {
            stale_reasons.push(reason);
        }
    }
    if let Some(e) = credits.as_ref().and_then(|c| c.failure.as_ref()) {
        stale_reasons.push(format!("credits: {e}"));
    }
    let status = SourceStatus {
        kind: "aws".into(),
        requests: refresh.budget.made,
        request_cost: refresh.budget.cost(),
        bytes_scanned: None,
        stale: !stale_reasons.is_empty(),
        stale_reasons,
    };
    Ok((table, as_of, status, credits.and_then(|c| c.snapshot)))
}

/// Why `query`'s days in the table are not whole, if they are not: its days within the
/// table's span that the cache lacks (a fetch that failed, a budget that ran out), or,
/// after a failed fetch, the last day the cache holds of it, its own and not the
/// table's.
fn cache_gap(
    store: &Cache,
    query: &str,
    table: &CostTable,
    end: NaiveDate,
    failure: Option<&aws::FetchError>,
) -> anyhow::Result<Option<String>> {
    let cached = store.cached_days(query)?;
    let through = table.last_day.succ_opt().unwrap_or(table.last_day).min(end);
    let holes = crate::store::cache::gaps(&cached, table.first_day, through);
    let why = failure.map_or_else(|| "not fetched".to_string(), |e| e.to_string());
    if !holes.is_empty() {
        return Ok(Some(format!(
            "{query}: {why}; the cache lacks its days {}, whose figures leave this query out",
            crate::model::text::day_runs(&holes, 3)
        )));
    }
    Ok(failure.map(|e| {
        let last = cached.range(..end).next_back().map(|(d, _)| *d);
        match last {
            Some(last) => format!("{query}: {e}; its figures are from the cache, through {last}"),
            None => format!("{query}: {e}; the cache holds none of its days"),
        }
    }))
}
