//! The same notices shaped for the channels beside email: Slack's Block Kit, Amazon Q
//! Developer's custom notification (for SNS topics that feed Slack, Teams or Chime), and
//! the alert as JSON (webhooks, raw SNS). Pure: the bytes are final when queued, so a
//! retry sends the very same message; signing and sending are `deliver`'s.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::analyse::analysis::AwardStatus;
use crate::analyse::report::{projection_sentence, Report};
use crate::config::{Channel, ChannelKind, SnsFormat};
use crate::model::deliveries::Deliveries;
use crate::model::money::money;
use crate::model::text::capitalised;
use crate::notify::email::{
    attention_first, facts, footer, needs_attention, resolved_body, stale_banner, status_words,
};
use crate::notify::notice::{stale_subject, stamp, MessageKind, Notice};

/// The version of the JSON the webhook and raw SNS channels send (`version` in every
/// payload). Fields are only ever added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// Slack's limits: blocks per message, characters in a section's text, in a field, in
/// a header, and fields per section.
pub const SLACK_MAX_BLOCKS: usize = 50;
pub const SLACK_SECTION_TEXT: usize = 3000;
const SLACK_FIELD_TEXT: usize = 2000;
const SLACK_HEADER_TEXT: usize = 150;
const SLACK_FIELDS: usize = 10;
/// SNS: `Subject` under 100 characters; the message at most 256 KB.
pub const SNS_SUBJECT: usize = 99;
pub const SNS_MAX_BYTES: usize = 256 * 1024;
/// Amazon Q's description: kept well inside what a chat message shows.
const CHAT_DESCRIPTION: usize = 8000;

/// One message shaped for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    pub kind: MessageKind,
    pub award: Option<String>,
    /// The notice's key: the channel's message id is built from it.
    pub key: String,
    /// For SNS, the `Subject` (under 100 characters); for the others, what the report
    /// and the logs call the message.
    pub subject: String,
    /// What is sent: Slack's JSON, the chat notification's JSON, the alert's JSON.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Slack,
    Chat,
    Json,
}

/// `text` in at most `max` characters, the mark of a cut included.
fn cap(text: &str, max: usize) -> String {
    crate::model::text::cap(text, max.saturating_sub(1))
}

fn format_of(channel: &Channel) -> Format {
    match &channel.kind {
        ChannelKind::Slack { .. } => Format::Slack,
        ChannelKind::Sns {
            format: SnsFormat::Chat,
            ..
        } => Format::Chat,
        ChannelKind::Sns {
            format: SnsFormat::Raw,
            ..
        }
        | ChannelKind::Webhook { .. } => Format::Json,
    }
}

fn message(
    channel: &Channel,
    kind: MessageKind,
    award: Option<String>,
    key: String,
    subject: &str,
    body: &Value,
) -> ChannelMessage {
    let subject = match channel.kind {
        ChannelKind::Sns { .. } => cap(&crate::model::text::one_line(subject), SNS_SUBJECT),
        _ => subject.to_string(),
    };
    ChannelMessage {
        kind,
        award,
        key,
        subject,
        body: serde_json::to_vec(body).expect("a JSON value serialises"),
    }
}

/// The messages this channel is sent this run: the notices its route admits, and the
/// digest (about the awards its route covers) when one is due and the route takes it.
///
/// `public_url` is where people reach the status page (`[daemon] public_url`): Slack
/// links each award's chart there (an image block needs a public image URL).
pub fn render(
    channel: &Channel,
    report: &Report,
    notices: &[Notice],
    digest: Option<&Deliveries>,
    public_url: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<ChannelMessage> {
    let format = format_of(channel);
    let mut out: Vec<ChannelMessage> = notices
        .iter()
        .filter(|n| {
            channel
                .route
                .admits(n.severity(), n.award_id, n.workloads())
        })
        .map(|n| {
            let body = match format {
                Format::Slack => slack(report, n, public_url),
                Format::Chat => chat(report, n),
                Format::Json => json_notice(report, n, now),
            };
            message(
                channel,
                n.kind,
                Some(n.award_id.to_string()),
                n.key.clone(),
                &n.subject,
                &body,
            )
        })
        .collect();
    if let (Some(deliveries), true) = (digest, channel.route.digest) {
        let awards: Vec<&AwardStatus> = report
            .awards
            .iter()
            .filter(|a| channel.route.covers(&a.id, &a.workloads))
            .collect();
        if !awards.is_empty() {
            let subject = digest_subject(report, &awards);
            let body = match format {
                Format::Slack => slack_digest(report, &awards, &subject),
                Format::Chat => chat_digest(report, &awards, &subject),
                Format::Json => json_digest(report, &awards, deliveries, now),
            };
            out.push(message(
                channel,
                MessageKind::Digest,
                None,
                format!("{}.digest.{}", report.as_of, stamp(now)),
                &subject,
                &body,
            ));
        }
    }
    out
}

/// `creditburn send-test --channel NAME`: proves the channel delivers.
pub fn render_test(channel: &Channel, now: DateTime<Utc>) -> ChannelMessage {
    let text = format!(
        "This is a test message from creditburn, sent {} to the {} channel {}. If you can read it, alerts will reach you the same way.",
        now.format("%Y-%m-%d %H:%M:%S UTC"),
        channel.kind.as_str(),
        channel.name
    );
    let subject = "creditburn test message";
    let body = match format_of(channel) {
        Format::Slack => json!({
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(&text)}}],
        }),
        Format::Chat => chat_value(subject, &text, &[], &["test"]),
        Format::Json => json!({
            "type": "test",
            "version": SCHEMA_VERSION,
            "timestamp": now.to_rfc3339(),
            "data": {"channel": channel.name, "text": text},
        }),
    };
    message(
        channel,
        MessageKind::Test,
        None,
        format!("test.{}", stamp(now)),
        subject,
        &body,
    )
}

fn digest_subject(report: &Report, awards: &[&AwardStatus]) -> String {
    let at_risk = awards.iter().filter(|a| needs_attention(a)).count();
    stale_subject(
        report,
        &format!(
            "Credits digest as of {}: {}, {} at risk",
            report.as_of,
            crate::model::text::count(awards.len() as u64, "award", "awards"),
            at_risk
        ),
    )
}

/// The footer's figures' source on one line.
fn footer_line(report: &Report) -> String {
    footer(report).replace('\n', " ").trim().to_string()
}

// ---- Slack ----

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": cap(text, SLACK_HEADER_TEXT), "emoji": false}})
}

fn section(mrkdwn: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cap(mrkdwn, SLACK_SECTION_TEXT)}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cap(&slack_escape(text), SLACK_SECTION_TEXT)}]})
}

fn slack(report: &Report, n: &Notice, public_url: Option<&str>) -> Value {
    let mut blocks = vec![header(&n.subject)];
    if let Some(banner) = stale_banner(report) {
        blocks.push(section(&format!(":warning: *{}*", slack_escape(&banner))));
    }
    let fallback;
    match (n.kind, n.award) {
        (MessageKind::Alert, Some(a)) => {
            let sentence = format!(
                "Award {} as of {}: {}",
                a.id,
                report.as_of,
                projection_sentence(a)
            );
            fallback = format!("{}\n{sentence}", n.subject);
            blocks.push(section(&format!(
                "*Award {}* as of {}: {}",
                slack_escape(&a.id),
                report.as_of,
                slack_escape(&projection_sentence(a))
            )));
            let fields: Vec<Value> = facts(a)
                .into_iter()
                .filter(|(k, _)| !matches!(*k, "Program" | "Start" | "Workloads"))
                .take(SLACK_FIELDS)
                .map(|(k, v)| {
                    json!({"type": "mrkdwn", "text": cap(&format!("*{k}*\n{}", slack_escape(&v)), SLACK_FIELD_TEXT)})
                })
                .collect();
            blocks.push(json!({"type": "section", "fields": fields}));
            let why: Vec<String> = n
                .alerts
                .iter()
                .map(|al| format!("• *{}* {}", al.severity.as_str(), slack_escape(&al.subject)))
                .collect();
            blocks.push(section(&format!(
                "*Why you are receiving this*\n{}",
                why.join("\n")
            )));
            if !n.hints.is_empty() {
                let hints: Vec<String> = n
                    .hints
                    .iter()
                    .map(|h| {
                        format!(
                            "{}. {} _({}{})_",
                            h.number,
                            slack_escape(&h.text),
                            h.worth(),
                            h.runway_days_gained
                                .map(|d| format!(", +{d:.0} days of runway"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                blocks.push(section(&format!("*What would help*\n{}", hints.join("\n"))));
            }
            if let Some(url) = public_url {
                let url = format!("{}#award-{}", url.trim_end_matches('/'), a.id);
                blocks.push(section(&format!(
                    "<{}|The burn-down chart and every award on the status page>",
                    url.replace('|', "%7C").replace('>', "%3E")
                )));
            }
            blocks.push(context(&format!("Workloads: {}", a.workloads.join(", "))));
        }
        _ => {
            let body = resolved_body(report, n);
            fallback = format!("{}\n{body}", n.subject);
            blocks.push(section(&slack_escape(&body)));
        }
    }
    blocks.push(context(&footer_line(report)));
    blocks.truncate(SLACK_MAX_BLOCKS);
    json!({"text": cap(&fallback, SLACK_SECTION_TEXT), "blocks": blocks})
}

fn slack_digest(report: &Report, awards: &[&AwardStatus], subject: &str) -> Value {
    let mut blocks = vec![header(subject)];
    if let Some(banner) = stale_banner(report) {
        blocks.push(section(&format!(":warning: *{}*", slack_escape(&banner))));
    }
    // Header, banner, out of pocket, footer and a line for the rest: the awards fill
    // what is left, those that need an eye first.
    let room = SLACK_MAX_BLOCKS - blocks.len() - 3;
    let ordered = attention_first(awards.iter().copied());
    for a in ordered.iter().take(room) {
        blocks.push(section(&format!(
            "*{}* ({})\n{} of {} consumed, {} left. {}",
            slack_escape(&a.id),
            status_words(a),
            money(a.consumed),
            money(a.amount),
            money(a.remaining),
            slack_escape(&projection_sentence(a))
        )));
    }
    if ordered.len() > room {
        blocks.push(section(&format!(
            "... and {} more awards (creditburn report lists them all)",
            ordered.len() - room
        )));
    }
    blocks.push(section(&slack_escape(&capitalised(
        &crate::analyse::report::out_of_pocket_sentence(&report.out_of_pocket),
    ))));
    blocks.push(context(&footer_line(report)));
    blocks.truncate(SLACK_MAX_BLOCKS);
    json!({"text": subject, "blocks": blocks})
}

// ---- Amazon Q Developer in chat applications ----

fn chat_value(title: &str, description: &str, next_steps: &[String], keywords: &[&str]) -> Value {
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": cap(description, CHAT_DESCRIPTION),
            "nextSteps": next_steps,
            "keywords": keywords,
        },
    })
}

fn chat(report: &Report, n: &Notice) -> Value {
    let mut d = String::new();
    if let Some(banner) = stale_banner(report) {
        d.push_str(&format!("**{banner}**\n\n"));
    }
    let mut steps = Vec::new();
    match (n.kind, n.award) {
        (MessageKind::Alert, Some(a)) => {
            d.push_str(&format!(
                "Award **{}** as of {}: {}\n\n",
                a.id,
                report.as_of,
                projection_sentence(a)
            ));
            for (k, v) in facts(a) {
                d.push_str(&format!("- **{k}**: {v}\n"));
            }
            d.push_str("\n**Why you are receiving this**\n");
            for al in &n.alerts {
                d.push_str(&format!("- [{}] {}\n", al.severity.as_str(), al.subject));
            }
            steps = n
                .hints
                .iter()
                .take(5)
                .map(|h| format!("{} ({})", h.text, h.worth()))
                .collect();
        }
        _ => d.push_str(&resolved_body(report, n)),
    }
    d.push_str(&format!("\n\n{}", footer_line(report)));
    chat_value(&n.subject, &d, &steps, &[n.severity().as_str(), n.award_id])
}

fn chat_digest(report: &Report, awards: &[&AwardStatus], subject: &str) -> Value {
    let mut d = String::new();
    if let Some(banner) = stale_banner(report) {
        d.push_str(&format!("**{banner}**\n\n"));
    }
    for a in awards {
        d.push_str(&format!(
            "- **{}** ({}): {}\n",
            a.id,
            status_words(a),
            projection_sentence(a)
        ));
    }
    d.push_str(&format!(
        "\n{}\n\n{}",
        capitalised(&crate::analyse::report::out_of_pocket_sentence(
            &report.out_of_pocket
        )),
        footer_line(report)
    ));
    chat_value(subject, &d, &[], &["digest"])
}

// ---- JSON (webhooks, raw SNS) ----

/// The report's award object without its daily series (the report has them).
fn award_json(a: &AwardStatus) -> Value {
    let mut v = serde_json::to_value(a).expect("the award serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("daily");
        o.remove("projected_draw");
    }
    v
}

fn data_json(report: &Report) -> Value {
    json!({
        "as_of": report.as_of,
        "currency": report.currency,
        "stale": report.source.stale,
        "stale_reasons": report.source.stale_reasons,
        "first_day": report.data.first_day,
        "last_day": report.data.last_day,
        "estimated_from": report.data.estimated_from,
    })
}

fn json_notice(report: &Report, n: &Notice, now: DateTime<Utc>) -> Value {
    let alert = &n.lead.alert;
    json!({
        "type": match (n.kind, n.award) {
            (MessageKind::Resolved, _) => "award.resolved",
            (_, None) => "account.alert",
            _ => "award.alert",
        },
        "version": SCHEMA_VERSION,
        "timestamp": now.to_rfc3339(),
        "data": {
            "report": data_json(report),
            "alert": {
                "key": format!("{}/{}", alert.award, alert.rule),
                "award": alert.award,
                "rule": alert.rule,
                "severity": alert.severity,
                "event": n.lead.kind.as_str(),
                "subject": n.subject,
            },
            "alerts": n.alerts,
            "award": n.award.map(award_json),
            "summary": match (n.kind, n.award) {
                (MessageKind::Alert, Some(a)) => projection_sentence(a),
                _ => resolved_body(report, n),
            },
            "hints": n.hints,
        },
    })
}

fn json_digest(
    report: &Report,
    awards: &[&AwardStatus],
    deliveries: &Deliveries,
    now: DateTime<Utc>,
) -> Value {
    json!({
        "type": "digest",
        "version": SCHEMA_VERSION,
        "timestamp": now.to_rfc3339(),
        "data": {
            "report": data_json(report),
            "awards": awards.iter().map(|a| award_json(a)).collect::<Vec<_>>(),
            "alerts": report.alerts.iter().filter(|al| awards.iter().any(|a| a.id == al.award)).collect::<Vec<_>>(),
            "out_of_pocket": report.out_of_pocket,
            "deliveries": {"pending": deliveries.pending, "failed": deliveries.failed_total},
        },
    })
}
