//! `creditburn send-test` (also `send-test-email`): one message now, by email to the
//! recipients, or with `--channel NAME` to that channel.

use super::*;

pub(super) fn send_test(common: &Common, channel: Option<&str>) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    let now = common.now.unwrap_or_else(Utc::now);
    match channel {
        None => send_test_email(&config, now),
        Some(name) => send_test_channel(common, &config, name, now),
    }
}

fn send_test_email(config: &Config, now: DateTime<Utc>) -> anyhow::Result<()> {
    let transport = deliver::Transport::from_config(&config.email)?;
    let email = email::render_test(&transport.describe(), &config.alerts.recipients, now);
    let message = deliver::queue(
        std::slice::from_ref(&email),
        &config.email,
        &config.alerts.recipients,
        SystemTime::from(now),
    )?;
    let rt = runtime()?;
    for m in &message {
        for r in &m.recipients {
            rt.block_on(transport.send(&m.message_id, r, &m.eml))
                .map_err(|e| {
                    let what = format!("the test message was not delivered to {r}: {}", e.message);
                    match e.failure {
                        deliver::Failure::Held => anyhow::Error::new(Misconfigured(format!(
                            "{what}; fix [email.smtp] (the login, TLS or sender) and try again"
                        ))),
                        _ => Undelivered(what).into(),
                    }
                })?;
        }
    }
    say!(
        "sent a test message to {} through {}",
        config.alerts.recipients.join(", "),
        transport.describe()
    );
    Ok(())
}

fn send_test_channel(
    common: &Common,
    config: &Config,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(channel) = config.channels.iter().find(|c| c.name == name) else {
        let names: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
        return Err(BadArgument(if names.is_empty() {
            format!("--channel {name}: the configuration has no [[channels]]")
        } else {
            format!(
                "--channel {name}: no such channel; the configured ones are {}",
                names.join(", ")
            )
        })
        .into());
    };
    let one = Config {
        channels: vec![channel.clone()],
        ..config.clone()
    };
    let rt = runtime()?;
    let channels = open_channels(&one, common.profile.as_deref(), &rt)?;
    let message = crate::notify::channels::render_test(channel, now);
    let queued = deliver::channel::queue(channel, vec![message]);
    for m in &queued {
        rt.block_on(channels.send(name, &m.message_id, &m.subject, &m.eml))
            .map_err(|e| {
                let what = format!("the test message was not delivered: {}", e.message);
                match e.failure {
                    deliver::Failure::Held => anyhow::Error::new(Misconfigured(what)),
                    _ => Undelivered(what).into(),
                }
            })?;
    }
    say!(
        "sent a test message to the {} channel {name}",
        channel.kind.as_str()
    );
    Ok(())
}
