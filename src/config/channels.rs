//! `[[channels]]`: where alerts go besides email (Slack, Amazon SNS, signed webhooks), each
//! with a route that picks what it is sent. Checked here like every other section: every
//! problem named by key, the channel named by its `name`.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Problems, SecretSource};
use crate::model::severity::Severity;

/// One channel, as validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Letters, digits, `-` and `_`: it names the channel in logs, the report and the
    /// outbox, and never carries a credential.
    pub name: String,
    pub kind: ChannelKind,
    pub route: Route,
    /// Bound on one delivery: connect, TLS, request and answer.
    pub timeout_seconds: f64,
}

impl Channel {
    /// The key its problems are reported under: `channels["team-slack"]`.
    pub fn key(&self) -> String {
        channel_key(0, Some(&self.name))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// A Slack incoming webhook. Its URL is a credential: read from the environment or
    /// a file when sending, never from the config file.
    Slack { url: SecretSource },
    /// An Amazon SNS topic, published to with the same credential chain as Cost Explorer.
    Sns {
        topic_arn: String,
        /// The topic's region, from its ARN.
        region: String,
        format: SnsFormat,
    },
    /// An HTTP endpoint that takes the alert as JSON, signed the Standard Webhooks way.
    Webhook { url: String, secret: SecretSource },
}

impl ChannelKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Sns { .. } => "sns",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }
}

/// What an SNS channel publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsFormat {
    /// Amazon Q Developer in chat applications' custom notification, so it shows in
    /// Slack, Teams or Chime.
    Chat,
    /// The alert as JSON, the webhook schema.
    Raw,
}

/// Which messages a channel is sent. Empty lists are refused; `None` is all.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub severities: Vec<Severity>,
    pub awards: Option<Vec<String>>,
    pub workloads: Option<Vec<String>>,
    /// Whether the digest goes to it too.
    pub digest: bool,
}

impl Route {
    /// Whether an alert of `severity` about `award` (funding `workloads`) is sent.
    pub fn admits(&self, severity: Severity, award: &str, workloads: &[String]) -> bool {
        self.severities.contains(&severity) && self.covers(award, workloads)
    }

    /// Whether `award` (funding `workloads`) is one the route is about: its awards and
    /// its workloads both, where set.
    pub fn covers(&self, award: &str, workloads: &[String]) -> bool {
        self.awards
            .as_ref()
            .is_none_or(|a| a.iter().any(|a| a == award))
            && self
                .workloads
                .as_ref()
                .is_none_or(|w| w.iter().any(|w| workloads.contains(w)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) url: Option<String>,
    pub(super) url_env: Option<String>,
    pub(super) url_file: Option<String>,
    pub(super) secret_env: Option<String>,
    pub(super) secret_file: Option<String>,
    pub(super) topic_arn: Option<String>,
    pub(super) format: Option<String>,
    pub(super) severities: Option<Vec<String>>,
    pub(super) awards: Option<Vec<String>>,
    pub(super) workloads: Option<Vec<String>>,
    #[serde(default)]
    pub(super) digest: bool,
    #[serde(default = "default_timeout")]
    pub(super) timeout_seconds: f64,
}

fn default_timeout() -> f64 {
    10.0
}

/// The longest channel name.
const MAX_NAME: usize = 64;

pub(super) fn channel_key(index: usize, name: Option<&str>) -> String {
    match name.filter(|n| !n.trim().is_empty()) {
        Some(n) => format!("channels[{n:?}]"),
        None => format!("channels[{index}]"),
    }
}

/// Where a secret is read from: at most one of `<key>.<stem>_env` and
/// `<key>.<stem>_file` (the SMTP password, the daemon's token, a channel's URL or secret);
/// None when neither is set or one is wrong (then a problem names it).
pub(super) fn secret_source(
    key: &str,
    stem: &str,
    env: &Option<String>,
    file: &Option<String>,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> Option<SecretSource> {
    match (env, file) {
        (Some(_), Some(_)) => {
            p.add(
                format!("{key}.{stem}_file"),
                format!("give {stem}_env or {stem}_file, not both"),
            );
            None
        }
        (Some(var), None) if var.trim().is_empty() => {
            p.add(
                format!("{key}.{stem}_env"),
                "is empty; name the environment variable",
            );
            None
        }
        (Some(var), None) => Some(SecretSource::Env(var.clone())),
        (None, Some(file)) => Some(SecretSource::File(resolve(file))),
        (None, None) => None,
    }
}

/// As [`secret_source`], one of the two required.
fn secret(
    key: &str,
    stem: &str,
    env: &Option<String>,
    file: &Option<String>,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> Option<SecretSource> {
    if env.is_none() && file.is_none() {
        p.add(
            format!("{key}.{stem}_env"),
            format!("is missing; give {stem}_env (an environment variable) or {stem}_file"),
        );
    }
    secret_source(key, stem, env, file, resolve, p)
}

/// Whether `url` is one creditburn may post to: https, or http to a loopback address
/// (a local relay or a test). Returns why not.
pub fn url_problem(url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("is not a URL (https://...)".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("is not a URL (https://host/path)".into());
    }
    match scheme {
        "https" => None,
        "http" if super::is_loopback(host) => None,
        "http" => Some(
            "is plain http to another machine; use https (http only to a loopback address)".into(),
        ),
        _ => Some("is not an https URL".into()),
    }
}

/// `arn:<partition>:sns:<region>:<account>:<topic>`: the region, or why it is not one.
pub fn topic_region(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[3]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && {
            let topic = parts[5].strip_suffix(".fifo").unwrap_or(parts[5]);
            (1..=256).contains(&topic.len())
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
    if well_formed {
        Ok(parts[3].to_string())
    } else {
        Err(format!(
            "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<12-digit account>:<topic name>)"
        ))
    }
}

pub(super) fn check_channels(
    raw: &[RawChannel],
    awards: &[String],
    workloads: &[String],
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> Vec<Channel> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let key = channel_key(i, Some(&c.name));
        let before = p.0.len();
        if c.name.is_empty()
            || c.name.len() > MAX_NAME
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            p.add(
                format!("{key}.name"),
                format!(
                    "{:?} is not a channel name: 1 to {MAX_NAME} letters, digits, '-' or '_'",
                    c.name
                ),
            );
        } else if !seen.insert(c.name.clone()) {
            p.add(
                format!("{key}.name"),
                "is used by another channel; give each channel a name of its own",
            );
        }
        let kind = kind_of(c, &key, resolve, p);
        let severities = severities_of(c, &key, awards, workloads, p);
        if !(c.timeout_seconds.is_finite() && c.timeout_seconds > 0.0 && c.timeout_seconds <= 300.0)
        {
            p.add(
                format!("{key}.timeout_seconds"),
                format!(
                    "{} is not a number of seconds above 0 and at most 300",
                    c.timeout_seconds
                ),
            );
        }
        if let (Some(kind), true) = (kind, p.0.len() == before) {
            out.push(Channel {
                name: c.name.clone(),
                kind,
                route: Route {
                    severities,
                    awards: c.awards.clone(),
                    workloads: c.workloads.clone(),
                    digest: c.digest,
                },
                timeout_seconds: c.timeout_seconds,
            });
        }
    }
    out
}

/// The keys a kind does not read, named; then the kind with what it reads.
fn kind_of(
    c: &RawChannel,
    key: &str,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> Option<ChannelKind> {
    // Keys that only another kind reads, named so a typo of kind is seen.
    let set = |k: &str| match k {
        "url" => c.url.is_some(),
        "url_env" => c.url_env.is_some(),
        "url_file" => c.url_file.is_some(),
        "secret_env" => c.secret_env.is_some(),
        "secret_file" => c.secret_file.is_some(),
        "topic_arn" => c.topic_arn.is_some(),
        "format" => c.format.is_some(),
        _ => false,
    };
    let all = [
        "url",
        "url_env",
        "url_file",
        "secret_env",
        "secret_file",
        "topic_arn",
        "format",
    ];
    let reads: &[&str] = match c.kind.as_str() {
        "slack" => &["url_env", "url_file"],
        "sns" => &["topic_arn", "format"],
        "webhook" => &["url", "secret_env", "secret_file"],
        _ => &all,
    };
    for k in all.iter().filter(|k| set(k) && !reads.contains(k)) {
        let message = if c.kind == "slack" && *k == "url" {
            "a Slack webhook URL is a credential: give it in url_env (an environment variable) or url_file, never in the config file".to_string()
        } else {
            format!("is not read for kind = {:?}", c.kind)
        };
        p.add(format!("{key}.{k}"), message);
    }
    match c.kind.as_str() {
        "slack" => secret(key, "url", &c.url_env, &c.url_file, resolve, p)
            .map(|url| ChannelKind::Slack { url }),
        "webhook" => {
            match &c.url {
                None => p.add(format!("{key}.url"), "is missing; give the endpoint's URL"),
                Some(u) => {
                    if let Some(why) = url_problem(u) {
                        p.add(format!("{key}.url"), why);
                    }
                }
            }
            let secret = secret(key, "secret", &c.secret_env, &c.secret_file, resolve, p);
            c.url
                .clone()
                .zip(secret)
                .map(|(url, secret)| ChannelKind::Webhook { url, secret })
        }
        "sns" => {
            let format = match c.format.as_deref() {
                None | Some("chat") => SnsFormat::Chat,
                Some("raw") => SnsFormat::Raw,
                Some(other) => {
                    p.add(
                        format!("{key}.format"),
                        format!("{other:?} is not one of chat (the default: Amazon Q Developer's notification, for Slack, Teams or Chime) or raw (the alert as JSON)"),
                    );
                    SnsFormat::Chat
                }
            };
            match &c.topic_arn {
                None => {
                    p.add(
                        format!("{key}.topic_arn"),
                        "is missing; give the topic's ARN",
                    );
                    None
                }
                Some(arn) => match topic_region(arn) {
                    Ok(region) => Some(ChannelKind::Sns {
                        topic_arn: arn.clone(),
                        region,
                        format,
                    }),
                    Err(e) => {
                        p.add(format!("{key}.topic_arn"), e);
                        None
                    }
                },
            }
        }
        other => {
            p.add(
                format!("{key}.kind"),
                format!("{other:?} is not one of slack, sns, webhook"),
            );
            None
        }
    }
}

/// The route's severities, and every award and workload it names known.
fn severities_of(
    c: &RawChannel,
    key: &str,
    awards: &[String],
    workloads: &[String],
    p: &mut Problems,
) -> Vec<Severity> {
    let severities = match &c.severities {
        None => Severity::ALL.to_vec(),
        Some(list) if list.is_empty() => {
            p.add(
                format!("{key}.severities"),
                "is empty, so nothing would be sent; leave it out to send every severity",
            );
            Vec::new()
        }
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(j, s)| {
                let v = Severity::parse(s);
                if v.is_none() {
                    p.add(
                        format!("{key}.severities[{j}]"),
                        format!("{s:?} is not one of info, warning, critical"),
                    );
                }
                v
            })
            .collect(),
    };
    for (list, what, known) in [
        (&c.awards, "awards", awards),
        (&c.workloads, "workloads", workloads),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            p.add(
                format!("{key}.{what}"),
                format!(
                    "is empty, so nothing would be sent; leave it out to send about all {what}"
                ),
            );
        }
        for (j, name) in list.iter().enumerate() {
            // The account's own alerts (out_of_pocket, apply_by) go under its key.
            let account = what == "awards" && name == super::ACCOUNT_KEY;
            if !known.contains(name) && !account {
                p.add(
                    format!("{key}.{what}[{j}]"),
                    format!(
                        "{name:?} is not one of the configured {what} ({}{})",
                        known.join(", "),
                        if what == "awards" {
                            format!(", or {:?} for the account's own alerts", super::ACCOUNT_KEY)
                        } else {
                            String::new()
                        }
                    ),
                );
            }
        }
    }
    severities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert_eq!(url_problem("https://hooks.slack.com/services/T/B/x"), None);
        assert_eq!(url_problem("http://127.0.0.1:8080/hook"), None);
        assert_eq!(url_problem("http://[::1]:8080/hook"), None);
        assert_eq!(url_problem("http://localhost/hook"), None);
        assert!(url_problem("http://example.com/hook").is_some());
        assert!(url_problem("ftp://example.com/hook").is_some());
        assert!(url_problem("hooks.slack.com/x").is_some());
        assert!(url_problem("https:///x").is_some());
        assert!(url_problem("https://a b/x").is_some());
    }

    #[test]
    fn topic_arns_give_their_region() {
        assert_eq!(
            topic_region("arn:aws:sns:eu-west-1:123456789012:creditburn-alerts").unwrap(),
            "eu-west-1"
        );
        assert_eq!(
            topic_region("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t.fifo").unwrap(),
            "us-gov-west-1"
        );
        for bad in [
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:1234:t",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:a b",
            "creditburn-alerts",
        ] {
            assert!(topic_region(bad).is_err(), "{bad}");
        }
    }
}
