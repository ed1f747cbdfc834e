//! `creditburn send-test-email`: one message to the recipients, now.

use super::*;

pub(super) fn send_test_email(common: &Common) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    let now = common.now.unwrap_or_else(Utc::now);
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
