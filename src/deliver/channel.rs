//! The channels beside email: Slack incoming webhooks and Standard Webhooks endpoints
//! over HTTP(S) (hyper-util's client with rustls, both already in the build through the
//! AWS SDK), and Amazon SNS topics through aws-sdk-sns.
//!
//! Each channel's deliveries come from the same outbox as email's and keep its
//! guarantees: committed with the alert state before anything is sent, one commit per
//! delivery, retried with the same backoff. A 429 waits as long as Retry-After asks
//! (within the pass when that is short, else the delivery is due no sooner); a revoked
//! hook, a refused signature or SNS refusing the credentials holds that channel's queue,
//! no attempt counted, and the run exits 78 naming it. Credentials (a Slack URL, a
//! signing secret) never leave this module: every error text is redacted of them.

use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use secrecy::{ExposeSecret, SecretString};

use super::{DeliverError, Failure, Redactor, SendReport, Sent};
use crate::config::{Channel, ChannelKind, SecretSource};
use crate::notify::channels::ChannelMessage;
use crate::store::outbox::{channel_recipient, Due, Outbox, Queued, Retry, Via};
use crate::store::StoreError;

/// Slack's answers for a hook that no longer works: the operator's to fix.
const SLACK_REVOKED: [&str; 6] = [
    "no_service",
    "channel_not_found",
    "invalid_token",
    "channel_is_archived",
    "team_disabled",
    "action_prohibited",
];

/// SNS error codes that are the operator's to fix (the credentials, the policy, the
/// topic, its KMS key): the channel is held.
const SNS_HELD: [&str; 14] = [
    "AuthorizationError",
    "NotFound",
    "InvalidSecurity",
    "KMSAccessDenied",
    "KMSDisabled",
    "KMSInvalidState",
    "KMSNotFound",
    "KMSOptInRequired",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
];

/// SNS error codes about the message itself: failed for good.
const SNS_REFUSED: [&str; 3] = [
    "InvalidParameter",
    "InvalidParameterValue",
    "ValidationException",
];

/// The longest Retry-After waited for within a pass; a longer one makes the delivery
/// due no sooner, and the channel's pass stops.
pub(crate) const MAX_WAIT_IN_PASS: StdDuration = StdDuration::from_secs(5);
/// The wait after a 429 that names none.
const DEFAULT_RETRY_AFTER: StdDuration = StdDuration::from_secs(30);
/// The most of a receiver's answer read.
const MAX_ANSWER: usize = 64 << 10;

/// The message id of a channel's message: the channel's name and the notice's key
/// (readable, or told apart by its digest), stable across retries. A webhook's
/// `webhook-id` header is this id.
pub(crate) fn message_id(channel: &str, key: &str) -> String {
    let inner = if super::safe(key) {
        key.to_string()
    } else {
        format!("{}.{}", super::readable(key), super::digest(key))
    };
    format!("{channel}:{inner}")
}

/// The channels' messages as queued deliveries: one each, to the channel.
pub(crate) fn queue(channel: &Channel, messages: Vec<ChannelMessage>) -> Vec<Queued> {
    messages
        .into_iter()
        .map(|m| Queued {
            message_id: message_id(&channel.name, &m.key),
            kind: m.kind,
            award: m.award,
            subject: m.subject,
            recipients: vec![channel_recipient(&channel.name)],
            eml: m.body,
            channel: Some(channel.name.clone()),
        })
        .collect()
}

/// Where a secret is set, for messages: `the environment variable SLACK_URL`.
fn where_set(source: &SecretSource) -> String {
    match source {
        SecretSource::Env(var) => format!("the environment variable {var}"),
        SecretSource::File(path) => path.display().to_string(),
    }
}

fn read_secret(
    channel: &Channel,
    stem: &str,
    source: &SecretSource,
) -> Result<SecretString, DeliverError> {
    let suffix = match source {
        SecretSource::Env(_) => "env",
        SecretSource::File(_) => "file",
    };
    let problem = |message: String| DeliverError::Channel {
        key: format!("{}.{stem}_{suffix}", channel.key()),
        message,
    };
    let text = super::secret_text(source).map_err(problem)?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(problem(format!("{} is empty", where_set(source))));
    }
    Ok(SecretString::from(text))
}

/// A Standard Webhooks secret: `whsec_` and the base64 of the key (the prefix may be
/// left out). Returns the key.
fn webhook_key(secret: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    match base64::engine::general_purpose::STANDARD.decode(b64) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(
            "is not a Standard Webhooks secret (whsec_ followed by the base64 of the key)".into(),
        ),
    }
}

/// The `webhook-signature` of a message: `v1,` and the base64 of the HMAC-SHA256, under
/// the key, of `id.timestamp.body`.
pub(crate) fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Every problem the channels would meet before they send (checked by `check-config`,
/// and by `run` before it commits anything): each secret set and readable, a Slack URL
/// one creditburn may post to, a webhook secret in the Standard Webhooks form.
pub fn problems(channels: &[Channel]) -> Vec<DeliverError> {
    let mut out = Vec::new();
    for c in channels {
        match &c.kind {
            ChannelKind::Slack { url } => match read_secret(c, "url", url) {
                Err(e) => out.push(e),
                Ok(u) => {
                    if let Some(why) = crate::config::url_problem(u.expose_secret()) {
                        out.push(DeliverError::Channel {
                            key: c.key(),
                            message: format!("the URL in {} {why}", where_set(url)),
                        });
                    }
                }
            },
            ChannelKind::Webhook { secret, .. } => match read_secret(c, "secret", secret) {
                Err(e) => out.push(e),
                Ok(s) => {
                    if let Err(why) = webhook_key(s.expose_secret()) {
                        out.push(DeliverError::Channel {
                            key: c.key(),
                            message: format!("the secret in {} {why}", where_set(secret)),
                        });
                    }
                }
            },
            ChannelKind::Sns { .. } => {}
        }
    }
    out
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

enum Target {
    Slack {
        url: SecretString,
    },
    Webhook {
        url: String,
        key: Vec<u8>,
    },
    Sns {
        client: aws_sdk_sns::Client,
        topic_arn: String,
        fifo: bool,
    },
}

struct Sender {
    name: String,
    target: Target,
    redactor: Redactor,
    timeout: StdDuration,
    /// Where to fix a held channel, for the message: `the URL in the environment variable X`.
    fix: String,
}

/// The configured channels, their secrets read, ready to send.
#[derive(Default)]
pub(crate) struct Channels {
    senders: Vec<Sender>,
    http: Option<Client<Https, Full<Bytes>>>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.senders.iter().map(|s| s.name.as_str()).collect();
        write!(f, "Channels {names:?}")
    }
}

/// What went wrong with one send to a channel. `message` is redacted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChannelError {
    pub failure: Failure,
    pub message: String,
    /// A 429's Retry-After.
    pub retry_after: Option<StdDuration>,
}

impl ChannelError {
    fn new(failure: Failure, message: String) -> ChannelError {
        ChannelError {
            failure,
            message,
            retry_after: None,
        }
    }
}

impl Channels {
    /// Reads each channel's secrets and builds its client; `sns` makes an SNS client
    /// for a region (with the same credential chain as Cost Explorer). Call after
    /// [`problems`] came back empty: a problem here is the first one it names.
    pub(crate) fn build(
        channels: &[Channel],
        sns: &dyn Fn(&str) -> aws_sdk_sns::Client,
    ) -> Result<Channels, DeliverError> {
        let mut out = Channels::default();
        for c in channels {
            let (target, redactor, fix) = match &c.kind {
                ChannelKind::Slack { url } => {
                    let u = read_secret(c, "url", url)?;
                    let secret = u.expose_secret();
                    // The path is the credential; a reply may quote it without the host.
                    let path = secret.split_once("://").map(|x| x.1).unwrap_or(secret);
                    let path = path.split_once('/').map(|x| x.1).unwrap_or(path);
                    // Its last part is the token itself.
                    let token = path.rsplit('/').next().unwrap_or(path);
                    let token = if token.len() >= 8 { token } else { path };
                    let redactor = Redactor::of(&[secret, path, token], &[]);
                    let fix = format!(
                        "create a new incoming webhook for the channel and put its URL in {}",
                        where_set(url)
                    );
                    (Target::Slack { url: u }, redactor, fix)
                }
                ChannelKind::Webhook { url, secret } => {
                    let s = read_secret(c, "secret", secret)?;
                    let key = webhook_key(s.expose_secret()).map_err(|why| DeliverError::Channel {
                        key: c.key(),
                        message: format!("the secret in {} {why}", where_set(secret)),
                    })?;
                    let b64 = s.expose_secret().trim_start_matches("whsec_").to_string();
                    let redactor = Redactor::of(&[s.expose_secret(), &b64, url], &[]);
                    let fix = format!(
                        "check {}'s url and that {} holds the endpoint's secret",
                        c.key(),
                        where_set(secret)
                    );
                    (Target::Webhook { url: url.clone(), key }, redactor, fix)
                }
                ChannelKind::Sns {
                    topic_arn, region, ..
                } => (
                    Target::Sns {
                        client: sns(region),
                        topic_arn: topic_arn.clone(),
                        fifo: topic_arn.ends_with(".fifo"),
                    },
                    Redactor::default(),
                    format!(
                        "check the credentials and that they may sns:Publish to {topic_arn} (creditburn iam-policy prints the policy)"
                    ),
                ),
            };
            if !matches!(target, Target::Sns { .. }) && out.http.is_none() {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|e| DeliverError::Channel {
                        key: c.key(),
                        message: format!("no CA certificates to verify the endpoint with: {e}; install the system's CA certificates"),
                    })?
                    .https_or_http()
                    .enable_http1()
                    .build();
                out.http = Some(Client::builder(hyper_util::rt::TokioExecutor::new()).build(https));
            }
            out.senders.push(Sender {
                name: c.name.clone(),
                target,
                redactor,
                timeout: StdDuration::from_secs_f64(c.timeout_seconds),
                fix,
            });
        }
        Ok(out)
    }

    /// The channels' names, in the configured order.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.senders.iter().map(|s| s.name.as_str()).collect()
    }

    /// Sends one message to the channel `name`: `body` as queued, `subject` for SNS.
    pub(crate) async fn send(
        &self,
        name: &str,
        message_id: &str,
        subject: &str,
        body: &[u8],
    ) -> Result<(), ChannelError> {
        let Some(sender) = self.senders.iter().find(|s| s.name == name) else {
            return Err(ChannelError::new(
                Failure::Held,
                format!("channel {name} is not configured"),
            ));
        };
        let result = match &sender.target {
            Target::Slack { url } => self
                .post(sender, url.expose_secret(), &[], body)
                .await
                .and_then(|(status, retry_after, answer)| {
                    slack_outcome(status, retry_after, &answer)
                }),
            Target::Webhook { url, key } => {
                // Signed when sent, by the real clock (not a run's --now): receivers
                // refuse a timestamp far from theirs.
                let timestamp = Utc::now().timestamp();
                let headers = [
                    ("webhook-id", message_id.to_string()),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", sign(key, message_id, timestamp, body)),
                ];
                self.post(sender, url, &headers, body).await.and_then(
                    |(status, retry_after, answer)| webhook_outcome(status, retry_after, &answer),
                )
            }
            Target::Sns {
                client,
                topic_arn,
                fifo,
            } => publish(sender, client, topic_arn, *fifo, message_id, subject, body).await,
        };
        result.map_err(|mut e| {
            e.message = sender
                .redactor
                .clean(&format!("channel {name}: {}", e.message));
            if e.failure == Failure::Held {
                e.message = format!("{}; {}", e.message, sender.fix);
            }
            e
        })
    }

    /// POSTs `body` as JSON; the status, a Retry-After and the start of the answer.
    async fn post(
        &self,
        sender: &Sender,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Option<StdDuration>, String), ChannelError> {
        let client = self.http.as_ref().expect("built with the HTTP channels");
        let mut request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("creditburn/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| {
                ChannelError::new(Failure::Held, format!("the URL cannot be used: {e}"))
            })?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                ChannelError::new(
                    Failure::Unreachable,
                    format!("no answer: {}", crate::model::text::error_line(&e)),
                )
            })?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(StdDuration::from_secs);
            // What the receiver said, at most MAX_ANSWER bytes of it.
            let answer = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
                .unwrap_or_default();
            Ok((status, retry_after, answer))
        };
        match tokio::time::timeout(sender.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ChannelError::new(
                Failure::Unreachable,
                format!("no answer within {:?}", sender.timeout),
            )),
        }
    }

    /// Works through every channel's due deliveries, one channel after another, adding
    /// to `report`. Deliveries of a channel no longer configured fail, named.
    pub(crate) async fn send_due(
        &self,
        outbox: &mut Outbox,
        now: DateTime<Utc>,
        retry: &Retry,
        report: &mut SendReport,
    ) -> Result<(), StoreError> {
        for gone in outbox.pending_channels()? {
            if !self.names().contains(&gone.as_str()) {
                let error = format!(
                    "channel {gone} is no longer in the configuration; its messages were not sent"
                );
                let n = outbox.fail_channel(&gone, &error, now)?;
                report.failed.push((
                    Sent {
                        subject: crate::model::text::count(n, "message", "messages"),
                        recipient: channel_recipient(&gone),
                    },
                    error,
                ));
            }
        }
        for sender in &self.senders {
            self.send_channel(&sender.name, outbox, now, retry, report)
                .await?;
        }
        Ok(())
    }

    async fn send_channel(
        &self,
        name: &str,
        outbox: &mut Outbox,
        now: DateTime<Utc>,
        retry: &Retry,
        report: &mut SendReport,
    ) -> Result<(), StoreError> {
        let via = Via::Channel(name);
        for due in outbox.due_via(now, via)? {
            crate::failpoint("before-channel-send");
            let who = Sent {
                subject: due.subject.clone(),
                recipient: due.recipient.clone(),
            };
            let mut result = self.attempt(name, &due).await;
            // A short Retry-After is waited for once, here.
            if let Err(ChannelError {
                retry_after: Some(after),
                ..
            }) = &result
            {
                if *after <= MAX_WAIT_IN_PASS {
                    tokio::time::sleep(*after).await;
                    result = self.attempt(name, &due).await;
                }
            }
            match result {
                Ok(()) => {
                    crate::failpoint("after-channel-send");
                    outbox.mark_sent(due.id, now)?;
                    report.sent.push(who);
                }
                Err(e) => match e.failure {
                    Failure::Refused => {
                        outbox.mark_failed(due.id, &e.message, now)?;
                        report.failed.push((who, e.message));
                    }
                    Failure::Held => {
                        let held = outbox.mark_held(&e.message, via)?;
                        report
                            .held_channels
                            .push((name.to_string(), e.message, held));
                        return Ok(());
                    }
                    Failure::Transient | Failure::Unreachable => {
                        let at_least = e
                            .retry_after
                            .and_then(|d| chrono::Duration::from_std(d).ok())
                            .unwrap_or_else(chrono::Duration::zero);
                        if outbox.mark_retry_after(&due, &e.message, now, retry, at_least)? {
                            report.retrying.push((who, e.message.clone()));
                        } else {
                            report.failed.push((who, e.message.clone()));
                        }
                        // The rest of this channel would meet the same: they wait, and
                        // after a rate limit, as long as it asked.
                        if e.failure == Failure::Unreachable || e.retry_after.is_some() {
                            report.waiting += outbox.due_via(now, via)?.len();
                            if let Some(until) = now.checked_add_signed(at_least) {
                                outbox.defer(via, until)?;
                            }
                            return Ok(());
                        }
                    }
                },
            }
        }
        Ok(())
    }

    async fn attempt(&self, name: &str, due: &Due) -> Result<(), ChannelError> {
        self.send(name, &due.message_id, &due.subject, &due.eml)
            .await
    }
}

fn answer_excerpt(answer: &str) -> String {
    crate::model::text::excerpt(answer)
}

/// The answers every receiver gives alike: 2xx delivered, 429 rate limited (after its
/// Retry-After), 5xx and the rest transient; a 3xx or 4xx is `other`'s to sort.
fn http_outcome(
    status: u16,
    retry_after: Option<StdDuration>,
    said: String,
    other: impl FnOnce(String) -> ChannelError,
) -> Result<(), ChannelError> {
    match status {
        200..=299 => Ok(()),
        429 => Err(ChannelError {
            failure: Failure::Transient,
            message: format!("{said} (rate limited)"),
            retry_after: Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
        }),
        300..=499 => Err(other(said)),
        _ => Err(ChannelError::new(Failure::Transient, said)),
    }
}

/// What Slack's answer means.
fn slack_outcome(
    status: u16,
    retry_after: Option<StdDuration>,
    answer: &str,
) -> Result<(), ChannelError> {
    let said = format!("Slack answered {status} {}", answer_excerpt(answer));
    http_outcome(status, retry_after, said, |said| {
        if SLACK_REVOKED.iter().any(|r| answer.contains(r))
            || matches!(status, 300..=399 | 403 | 404 | 410)
        {
            ChannelError::new(
                Failure::Held,
                format!("{said}: the webhook was revoked or its channel is gone"),
            )
        } else {
            ChannelError::new(
                Failure::Refused,
                format!("{said}: Slack refused the message"),
            )
        }
    })
}

/// What a webhook receiver's answer means.
fn webhook_outcome(
    status: u16,
    retry_after: Option<StdDuration>,
    answer: &str,
) -> Result<(), ChannelError> {
    let said = format!("the endpoint answered {status} {}", answer_excerpt(answer));
    http_outcome(status, retry_after, said, |said| match status {
        401 | 403 => ChannelError::new(
            Failure::Held,
            format!("{said}: it refuses the signature or the sender"),
        ),
        404 | 410 => ChannelError::new(Failure::Held, format!("{said}: the endpoint is gone")),
        300..=399 => ChannelError::new(
            Failure::Held,
            format!("{said}: a redirect, which is not followed; give the final URL"),
        ),
        408 => ChannelError::new(Failure::Transient, said),
        _ => ChannelError::new(
            Failure::Refused,
            format!("{said}: the endpoint refused the message"),
        ),
    })
}

async fn publish(
    sender: &Sender,
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    fifo: bool,
    message_id: &str,
    subject: &str,
    body: &[u8],
) -> Result<(), ChannelError> {
    use aws_sdk_sns::error::{ProvideErrorMetadata as _, SdkError};
    let mut request = client
        .publish()
        .topic_arn(topic_arn)
        .message(String::from_utf8_lossy(body))
        .subject(subject);
    if fifo {
        // One group keeps the order; the id's digest lets SNS drop a repeat.
        request = request
            .message_group_id("creditburn")
            .message_deduplication_id(super::digest(message_id));
    }
    let sent = match tokio::time::timeout(sender.timeout, request.send()).await {
        Err(_) => {
            return Err(ChannelError::new(
                Failure::Unreachable,
                format!("SNS did not answer within {:?}", sender.timeout),
            ))
        }
        Ok(sent) => sent,
    };
    let e = match sent {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let line = crate::model::text::error_line(&e);
    Err(match &e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("").to_string();
            let text = format!(
                "SNS refused: {code} {}",
                service.err().message().unwrap_or("")
            );
            if SNS_HELD.contains(&code.as_str()) {
                ChannelError::new(Failure::Held, text)
            } else if SNS_REFUSED.contains(&code.as_str()) {
                ChannelError::new(Failure::Refused, text)
            } else {
                ChannelError::new(Failure::Transient, text)
            }
        }
        SdkError::TimeoutError(_) => {
            ChannelError::new(Failure::Unreachable, format!("SNS did not answer: {line}"))
        }
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => ChannelError::new(
            Failure::Unreachable,
            format!("SNS could not be reached: {line}"),
        ),
        // No credentials, a request that cannot be built: the operator's.
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            ChannelError::new(Failure::Held, format!("SNS: {line}"))
        }
        _ => ChannelError::new(Failure::Transient, format!("SNS: {line}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's reference libraries.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(webhook_key("whsec_not base64!").is_err());
        assert!(webhook_key("whsec_").is_err());
    }

    #[test]
    fn answers_are_sorted_into_what_to_do() {
        let held = |r: Result<(), ChannelError>| r.unwrap_err().failure == Failure::Held;
        assert!(slack_outcome(200, None, "ok").is_ok());
        assert!(held(slack_outcome(404, None, "no_service")));
        assert!(held(slack_outcome(410, None, "")));
        assert!(held(slack_outcome(403, None, "invalid_token")));
        assert!(held(slack_outcome(404, None, "channel_not_found")));
        assert_eq!(
            slack_outcome(400, None, "invalid_payload")
                .unwrap_err()
                .failure,
            Failure::Refused
        );
        let limited = slack_outcome(429, Some(StdDuration::from_secs(2)), "").unwrap_err();
        assert_eq!(
            (limited.failure, limited.retry_after),
            (Failure::Transient, Some(StdDuration::from_secs(2)))
        );
        assert_eq!(
            slack_outcome(503, None, "").unwrap_err().failure,
            Failure::Transient
        );
        assert!(held(webhook_outcome(401, None, "bad signature")));
        assert!(held(webhook_outcome(410, None, "")));
        assert!(held(webhook_outcome(302, None, "")));
        assert_eq!(
            webhook_outcome(422, None, "").unwrap_err().failure,
            Failure::Refused
        );
        assert!(webhook_outcome(204, None, "").is_ok());
    }

    #[test]
    fn message_ids_are_stable_and_name_the_channel() {
        assert_eq!(
            message_id("team-slack", "2026-11-30.poc.consumed.new.20261201T090000Z"),
            "team-slack:2026-11-30.poc.consumed.new.20261201T090000Z"
        );
        let odd = message_id("hooks", "2026-11-30.a b/c.consumed.new.x");
        assert!(
            odd.starts_with("hooks:2026-11-30.a.b.c.consumed.new.x."),
            "{odd}"
        );
        assert!(odd.chars().all(|c| c.is_ascii_graphic()), "{odd}");
    }
}
