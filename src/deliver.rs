//! Delivery: rendered emails become MIME messages (lettre), and queued messages leave
//! the outbox through a transport: SMTP (lettre's async transport, STARTTLS required by
//! default, certificates verified) or a folder of `.eml` files. The only module that
//! knows lettre.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::cache::CacheError;
use crate::config::{EmailConfig, PasswordSource, Security, SmtpConfig, TransportConfig};
use crate::email::AlertEmail;
use crate::outbox::{Outbox, Queued, Retry};

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("{key}: {value:?} is not a valid email address: {reason}")]
    Address {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("building the email {key}: {reason}")]
    Build { key: String, reason: String },
    #[error("{}: cannot write to the outbox: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The `.eml` folder cannot take messages (checked before a run commits anything).
    #[error("{}: cannot be the outbox: {message}", path.display())]
    OutboxFolder { path: PathBuf, message: String },
    /// The SMTP settings cannot be used (password missing, CA file unreadable, ...).
    #[error("{key}: {message}")]
    Setup { key: &'static str, message: String },
}

/// Why one send failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    /// A 5xx reply: the server refused for good.
    pub permanent: bool,
    /// No answer at all (connection refused, timeout, TLS failure, an unwritable folder):
    /// the rest of this pass would meet the same, so it stops and they wait.
    pub unreachable: bool,
    pub message: String,
}

/// The message id of a rendered email: stable, so a retried message is the same message.
pub fn message_id(email: &AlertEmail) -> String {
    format!("<{}@creditburn>", email.key)
}

fn mailbox(key: &'static str, value: &str) -> Result<Mailbox, DeliverError> {
    value
        .parse()
        .map_err(|e: lettre::address::AddressError| DeliverError::Address {
            key,
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// Builds the multipart (plain text + HTML) message for one email.
pub fn build(
    email: &AlertEmail,
    from: &str,
    recipients: &[String],
    date: SystemTime,
) -> Result<Message, DeliverError> {
    let mut builder = Message::builder()
        .from(mailbox("email.from", from)?)
        .subject(email.subject.clone())
        .message_id(Some(message_id(email)))
        .date(date);
    for r in recipients {
        builder = builder.to(mailbox("alerts.recipients", r)?);
    }
    let body = match &email.chart {
        None => MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()),
        // alternative(text, related(html, chart)): clients that show HTML show the chart.
        Some(png) => MultiPart::alternative()
            .singlepart(SinglePart::plain(email.text.clone()))
            .multipart(
                MultiPart::related()
                    .singlepart(SinglePart::html(email.html.clone()))
                    .singlepart(
                        Attachment::new_inline(crate::email::CHART_CID.to_string()).body(
                            png.clone(),
                            ContentType::parse("image/png")
                                .expect("image/png is a valid content type"),
                        ),
                    ),
            ),
    };
    builder.multipart(body).map_err(|e| DeliverError::Build {
        key: email.key.clone(),
        reason: e.to_string(),
    })
}

/// Builds every email into queued messages, one per recipient (the same bytes and
/// Message-ID for each), so an address the server refuses fails alone. Nothing is queued
/// if one email cannot be built.
pub fn queue(
    emails: &[AlertEmail],
    config: &EmailConfig,
    recipients: &[String],
    date: SystemTime,
) -> Result<Vec<Queued>, DeliverError> {
    let mut out = Vec::new();
    for e in emails {
        let eml = build(e, &config.from, recipients, date)?.formatted();
        for r in recipients {
            out.push(Queued {
                message_id: message_id(e),
                kind: e.kind.clone(),
                award: e.award.clone(),
                subject: e.subject.clone(),
                recipients: vec![r.clone()],
                eml: eml.clone(),
            });
        }
    }
    Ok(out)
}

/// Where messages go.
pub enum Transport {
    File(PathBuf),
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// Bound on one whole delivery: connect, TLS, auth and every command.
        limit: Duration,
        from: Address,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File(dir) => write!(f, "Transport::File({})", dir.display()),
            Transport::Smtp { limit, from, .. } => {
                write!(f, "Transport::Smtp {{ from: {from}, limit: {limit:?} }}")
            }
        }
    }
}

/// The SMTP password, read when the transport is built; Debug prints `[REDACTED]`.
fn read_password(source: &PasswordSource) -> Result<SecretString, DeliverError> {
    match source {
        PasswordSource::Env(var) => {
            std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| DeliverError::Setup {
                    key: "email.smtp.password_env",
                    message: format!("the environment variable {var} is not set"),
                })
        }
        PasswordSource::File(path) => std::fs::read_to_string(path)
            .map(|s| SecretString::from(s.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| DeliverError::Setup {
                key: "email.smtp.password_file",
                message: format!("{}: {e}", path.display()),
            }),
    }
}

fn smtp(config: &SmtpConfig, from: &str) -> Result<Transport, DeliverError> {
    let mut tls = TlsParameters::builder(config.host.clone());
    if let Some(ca) = &config.ca_file {
        let pem = std::fs::read(ca).map_err(|e| DeliverError::Setup {
            key: "email.smtp.ca_file",
            message: format!("{}: {e}", ca.display()),
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| DeliverError::Setup {
            key: "email.smtp.ca_file",
            message: format!("{}: not a PEM certificate: {e}", ca.display()),
        })?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls.build().map_err(|e| DeliverError::Setup {
        key: "email.smtp",
        message: format!("TLS settings: {e}"),
    })?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .timeout(Some(Duration::from_secs_f64(
            config.command_timeout_seconds,
        )))
        .tls(match config.security {
            Security::StartTls => Tls::Required(tls),
            Security::Tls => Tls::Wrapper(tls),
            Security::Plain => Tls::None,
        });
    if let (Some(user), Some(source)) = (&config.username, &config.password) {
        let password = read_password(source)?;
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    let from = mailbox("email.from", from)?.email;
    Ok(Transport::Smtp {
        transport: Box::new(builder.build()),
        limit: Duration::from_secs_f64(
            config.connect_timeout_seconds + 3.0 * config.command_timeout_seconds,
        ),
        from,
    })
}

impl Transport {
    pub fn from_config(config: &EmailConfig) -> Result<Transport, DeliverError> {
        match &config.transport {
            TransportConfig::File { outbox } => Ok(Transport::File(outbox.clone())),
            TransportConfig::Smtp(s) => smtp(s, &config.from),
        }
    }

    /// Checks what can be checked before a run commits anything: the `.eml` folder
    /// exists (or can be made) and takes a file. (SMTP settings were checked when the
    /// transport was built; the server itself is only met when sending.)
    pub fn check(&self) -> Result<(), DeliverError> {
        let Transport::File(dir) = self else {
            return Ok(());
        };
        let fail = |message: String| DeliverError::OutboxFolder {
            path: dir.clone(),
            message,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(fail(
                "it exists and is not a folder; set email.outbox to a folder".to_string(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            fail(format!(
                "the folder cannot be created ({e}); set email.outbox to a writable folder"
            ))
        })?;
        let probe = dir.join(".creditburn-write-check");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| {
                fail(format!(
                    "the folder cannot be written ({e}); give creditburn write access to it"
                ))
            })
    }

    /// Where messages go, for people.
    pub fn describe(&self) -> String {
        match self {
            Transport::File(dir) => dir.display().to_string(),
            Transport::Smtp { .. } => "SMTP".to_string(),
        }
    }

    /// Delivers one queued message.
    pub async fn send(&self, message: &Queued) -> Result<(), SendError> {
        match self {
            Transport::File(dir) => {
                let name = message
                    .message_id
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim_end_matches("@creditburn");
                let transient = |e: std::io::Error| SendError {
                    permanent: false,
                    unreachable: true,
                    message: format!("{}: {e}", dir.display()),
                };
                std::fs::create_dir_all(dir).map_err(transient)?;
                write_atomically(
                    &dir.join(format!("{}.eml", crate::file_safe(name))),
                    &message.eml,
                )
                .map_err(|e| SendError {
                    permanent: false,
                    unreachable: true,
                    message: e.to_string(),
                })
            }
            Transport::Smtp {
                transport,
                limit,
                from,
            } => {
                let to: Vec<Address> = message
                    .recipients
                    .iter()
                    .filter_map(|r| r.parse::<Mailbox>().ok().map(|m| m.email))
                    .collect();
                let envelope = Envelope::new(Some(from.clone()), to).map_err(|e| SendError {
                    permanent: true,
                    unreachable: false,
                    message: format!("envelope: {e}"),
                })?;
                match tokio::time::timeout(*limit, transport.send_raw(&envelope, &message.eml))
                    .await
                {
                    Err(_) => Err(SendError {
                        permanent: false,
                        unreachable: true,
                        message: format!("no answer from the SMTP server within {limit:?}"),
                    }),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(SendError {
                        permanent: e.is_permanent(),
                        // A reply (4xx, 5xx) means the server is there.
                        unreachable: !(e.is_transient() || e.is_permanent()),
                        message: smtp_error(&e),
                    }),
                }
            }
        }
    }
}

/// A lettre error and its sources, one line.
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendReport {
    pub sent: Vec<String>,
    /// (subject, error) of messages that will be tried again in a later run.
    pub retrying: Vec<(String, String)>,
    /// (subject, error) of messages refused for good.
    pub failed: Vec<(String, String)>,
    /// Messages not tried because the server could not be reached.
    pub waiting: usize,
}

/// Sends every message due at `now`, marking each sent, to retry, or failed, one commit
/// each, so a kill loses at most the knowledge that the in-flight message went out. When
/// the server cannot be reached at all, the pass stops there: the messages after it stay
/// due and are tried by the next run.
pub async fn send_due(
    transport: &Transport,
    outbox: &Outbox,
    now: DateTime<Utc>,
    retry: &Retry,
) -> Result<SendReport, CacheError> {
    let mut report = SendReport::default();
    for due in outbox.due(now)? {
        crate::failpoint("before-send");
        match transport.send(&due.message).await {
            Ok(()) => {
                crate::failpoint("after-send");
                outbox.mark_sent(due.id, now)?;
                report.sent.push(due.message.subject.clone());
            }
            Err(e) if e.permanent => {
                outbox.mark_failed(due.id, &e.message, now)?;
                report.failed.push((due.message.subject.clone(), e.message));
            }
            Err(e) => {
                if outbox.mark_retry(&due, &e.message, now, retry)? {
                    report
                        .retrying
                        .push((due.message.subject.clone(), e.message.clone()));
                } else {
                    report
                        .failed
                        .push((due.message.subject.clone(), e.message.clone()));
                }
                if e.unreachable {
                    report.waiting = outbox.due(now)?.len();
                    break;
                }
            }
        }
    }
    Ok(report)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DeliverError> {
    let tmp = path.with_extension("eml.tmp");
    let fail = |source| DeliverError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
