//! `creditburn run`: one pass, from the data to the outbox and out.

use super::*;

/// `creditburn run`: the report, the alert events against the remembered state, the
/// emails (and the digest when due) committed to the outbox with the new state in one
/// transaction, then everything due sent.
pub(super) fn run(common: &Common) -> anyhow::Result<()> {
    let (config, report) = prepare(common)?;
    let now = common.now.unwrap_or_else(Utc::now);
    // The transport (its password, CA file, outbox folder) is built and checked before
    // anything is committed: a problem here leaves the alert state and the queue as they
    // were, so fixing it loses no message.
    if let Some(first) = deliver::problems(&config.email, &config.alerts.recipients)
        .into_iter()
        .next()
    {
        return Err(first.into());
    }
    let transport = deliver::Transport::from_config(&config.email)?;
    let rt = runtime()?;
    let channels = open_channels(&config, common.profile.as_deref(), &rt)?;
    let mut outbox = Outbox::open(&config.state_path)?;
    let previous = outbox.alert_states()?;
    let snoozes = |award: &str| {
        config
            .awards
            .iter()
            .find(|a| a.id == award)
            .and_then(|a| a.snooze_until)
    };
    let repeat = config.alerts.repeat_interval();
    let decision = notify::decide(
        &report.alerts,
        &previous,
        &snoozes,
        report.as_of,
        now,
        repeat,
    );
    let mut emails = email::render(&report, &decision.events, now);
    let every = config.email.digest_every_days;
    let digest_due = every > 0
        && outbox
            .last_digest()?
            .is_none_or(|last| (now.date_naive() - last).num_days() >= every);
    // The outbox's counts, which only the digest shows.
    let deliveries = if digest_due {
        Some(outbox.deliveries()?)
    } else {
        None
    };
    if let Some(d) = &deliveries {
        emails.push(email::render_digest(&report, d, now));
    }
    let mut queued = deliver::queue(
        &emails,
        &config.email,
        &config.alerts.recipients,
        SystemTime::from(now),
    )?;
    let notices = crate::notify::notice::notices(&report, &decision.events, now);
    for c in &config.channels {
        let messages = crate::notify::channels::render(
            c,
            &report,
            &notices,
            deliveries.as_ref(),
            config.public_url.as_deref(),
            now,
        );
        queued.extend(deliver::channel::queue(c, messages));
    }
    crate::failpoint("before-commit");
    let fresh = outbox.commit(
        &queued,
        &decision.states,
        digest_due.then(|| now.date_naive()),
        now,
    )?;
    // Saved once the alerts are committed: the next run's spike check looks back to this
    // report's last day, so a run that dies before its commit must not move it on.
    let page = crate::notify::page::render(&report, now);
    DaemonState::open(&config.state_path)?.save_report(&report.to_json(), &page.html, now)?;
    crate::failpoint("after-commit");

    let retry = Retry {
        base: config.email.retry_base(),
        max: config.email.retry_max(),
        max_attempts: config.email.max_attempts,
    };
    let sent = rt.block_on(deliver::send_due(
        &transport,
        &channels,
        &mut outbox,
        now,
        &retry,
    ))?;
    let pruned = outbox.prune(now - chrono::Duration::days(config.email.prune_after_days))?;
    if pruned > 0 {
        say!(
            "pruned {} finished more than {} days ago",
            count(pruned, "delivery", "deliveries"),
            config.email.prune_after_days
        );
    }

    for a in &report.awards {
        say!(
            "award {}: {} consumed of {}, {}",
            a.id,
            crate::model::money::money(a.consumed),
            crate::model::money::money(a.amount),
            a.status.as_str()
        );
    }
    let kinds: Vec<String> = decision
        .events
        .iter()
        .map(|e| format!("{} {} {}", e.kind.as_str(), e.alert.award, e.alert.rule))
        .collect();
    say!(
        "as of {}: {} in force; events: {}; queued {}, sent {} via {}",
        report.as_of,
        count(report.alerts.len() as u64, "alert", "alerts"),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        fresh,
        sent.sent.len(),
        std::iter::once(transport.describe())
            .chain(channels.names().iter().map(|c| format!("channel {c}")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for d in &sent.sent {
        println!("sent: {} to {}", d.subject, d.recipient);
    }
    for (d, error) in &sent.retrying {
        tracing::warn!(subject = %d.subject, recipient = %d.recipient, error = %error,
            "will retry {:?} to {}: {error}", d.subject, d.recipient);
    }
    for (d, error) in &sent.failed {
        tracing::error!(subject = %d.subject, recipient = %d.recipient, error = %error,
            "not delivered, will not retry {:?} to {}: {error}", d.subject, d.recipient);
    }
    let mut held = Vec::new();
    if let Some((error, n)) = &sent.held {
        held.push(format!(
            "{} held, none lost: {error}; fix [email.smtp] (the login, TLS or sender address) and run again to send them",
            count(*n, "delivery", "deliveries"),
        ));
    }
    for (channel, error, n) in &sent.held_channels {
        held.push(format!(
            "{} to channel {channel} held, none lost: {error}; then run again to send them",
            count(*n, "delivery", "deliveries"),
        ));
    }
    if !held.is_empty() {
        for line in &held[1.min(held.len())..] {
            tracing::error!("{line}");
        }
        return Err(Misconfigured(held[0].clone()).into());
    }
    if !sent.retrying.is_empty() || !sent.failed.is_empty() || sent.waiting > 0 {
        let waiting = sent.retrying.len() + sent.waiting;
        return Err(Undelivered(format!(
            "{} waiting to be retried, {} failed for good; see the report's deliveries",
            count(waiting as u64, "message", "messages"),
            sent.failed.len()
        ))
        .into());
    }
    Ok(())
}
