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

use crate::config::{EmailConfig, SecretSource, Security, SmtpConfig, TransportConfig};
use crate::model::text::cap;
use crate::notify::email::AlertEmail;
use crate::store::outbox::{Outbox, Queued, Retry, Via};

pub(crate) mod channel;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("{key}: {value:?} is not an address creditburn can send to ({reason}); write it as name@example.com or \"Name <name@example.com>\", with no control characters")]
    Address {
        key: String,
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
    /// A channel cannot be used (its URL or secret not set, unreadable, malformed).
    #[error("{key}: {message}")]
    Channel { key: String, message: String },
}

/// What a failed send means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Refused for this message or recipient (a 5xx about it): failed for good.
    Refused,
    /// A 4xx about this message: retried after the backoff.
    Transient,
    /// No answer (connection refused, timeout, an unwritable folder): retried after the
    /// backoff, and the rest of the pass, which would meet the same, waits.
    Unreachable,
    /// The operator's to fix (the login refused, TLS settings, the sender refused):
    /// every queued message stays queued, no attempt counted, until it is fixed.
    Held,
}

/// Why one send failed. `message` is safe to log, store and email: server text is
/// redacted of the credentials and cut short.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SendError {
    pub failure: Failure,
    pub message: String,
}

/// Server replies are untrusted text: one may echo the client's AUTH argument, the
/// password itself or base64 of it. `clean` removes every form of the credentials it can
/// recognise (plain, base64 in any alignment it appears as a token, AUTH PLAIN and LOGIN
/// encodings), folds control characters and caps the length.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Vec<u8>>,
    forms: Vec<String>,
}

/// The longest server text kept in an error.
pub(crate) const MAX_SERVER_TEXT: usize = 300;

impl Redactor {
    pub fn new(username: &str, password: &str) -> Redactor {
        if password.is_empty() {
            return Redactor::default();
        }
        Redactor::of(
            &[password],
            &[
                format!("\0{username}\0{password}"),
                format!("{username}\0{username}\0{password}"),
            ],
        )
    }

    /// A redactor of each of `secrets` (a webhook URL, a signing secret, its key), in
    /// every form it knows, and of the base64 of each of `encoded`.
    pub fn of(secrets: &[&str], encoded: &[String]) -> Redactor {
        use base64::Engine as _;
        let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
        if secrets.is_empty() {
            return Redactor::default();
        }
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
        ];
        let mut forms: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let plains = secrets
            .iter()
            .map(|s| s.to_string())
            .chain(encoded.iter().cloned());
        for plain in plains {
            for e in &engines {
                let encoded = e.encode(plain.as_bytes());
                forms.push(encoded.trim_end_matches('=').to_string());
                forms.push(encoded);
            }
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Redactor {
            secrets: secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
            forms,
        }
    }

    /// `text` with the credentials replaced by `[redacted]`, on one line, at most
    /// [`MAX_SERVER_TEXT`] characters.
    pub(crate) fn clean(&self, text: &str) -> String {
        // Scanned whole (up to a bound far past the cap), so a cut never leaves part of an
        // encoding behind.
        let mut out: String = text
            .chars()
            .take(64 * MAX_SERVER_TEXT)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if !self.secrets.is_empty() {
            for f in &self.forms {
                out = out.replace(f.as_str(), "[redacted]");
            }
            out = self.redact_encoded_tokens(&out);
        }
        cap(&out, MAX_SERVER_TEXT)
    }

    /// Replaces each run of base64 characters that decodes (from any of the four
    /// alignments it may start at) to bytes containing the password.
    fn redact_encoded_tokens(&self, text: &str) -> String {
        use base64::Engine as _;
        let lenient = base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true);
        let engines = [
            base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, lenient),
            base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient),
        ];
        let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
        let holds = |bytes: &[u8]| {
            self.secrets
                .iter()
                .any(|s| bytes.windows(s.len()).any(|w| w == s.as_slice()))
        };
        let encodes_password = |run: &str| {
            (0..4.min(run.len())).any(|skip| {
                let t = &run[skip..];
                // A length of 4n + 1 cannot be decoded: its last character is dropped.
                let t = if t.len() % 4 == 1 {
                    &t[..t.len() - 1]
                } else {
                    t
                };
                engines.iter().any(|e| e.decode(t).is_ok_and(|b| holds(&b)))
            })
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_b64) {
            out.push_str(&rest[..start]);
            let len = rest[start..]
                .find(|c: char| !is_b64(c))
                .unwrap_or(rest.len() - start);
            let run = &rest[start..start + len];
            out.push_str(if encodes_password(run) {
                "[redacted]"
            } else {
                run
            });
            rest = &rest[start + len..];
        }
        out.push_str(rest);
        out
    }
}

/// The message id of a rendered email: stable (a retried message is the same message)
/// and valid by RFC 5322 whatever an award's id holds. A key of letters, digits, `-`,
/// `_` and single dots, at most `SAFE_KEY` characters, is the id as it is; any other is
/// made readable (`readable`) and told apart by its digest, so two keys that read alike
/// (`x y` and `x_y`) are two messages.
pub(crate) fn message_id(email: &AlertEmail) -> String {
    if safe(&email.key) {
        format!("<{}@creditburn>", email.key)
    } else {
        format!(
            "<{}.{}@creditburn>",
            readable(&email.key),
            digest(&email.key)
        )
    }
}

/// The longest key a message id or file name carries as it is.
const SAFE_KEY: usize = 100;

/// Letters, digits, `-`, `_` and single dots, neither first nor last; not too long.
fn safe(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= SAFE_KEY
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !text.starts_with('.')
        && !text.ends_with('.')
        && !text.contains("..")
}

/// `text` with every run of anything but letters, digits, `-` and `_` one dot, at most
/// 60 characters: the readable part of an id made from it.
fn readable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('.') {
            out.push('.');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('.');
    if out.is_empty() {
        "message".into()
    } else {
        out.to_string()
    }
}

/// The first 16 hex digits of the SHA-256 of `text`: stable across runs and versions.
fn digest(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `.eml` file of a message: its id as it is when that is safe, else readable and
/// told apart by the id's digest; within every filesystem's name limit either way.
fn file_stem(message_id: &str) -> String {
    let inner = message_id
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches("@creditburn");
    if safe(inner) {
        inner.to_string()
    } else {
        format!("{}.{}", readable(inner), digest(message_id))
    }
}

/// The Message-ID header of an `.eml` file, if it has one.
fn message_id_of_file(path: &Path) -> Option<String> {
    use std::io::Read as _;
    // The headers come first: 64 KiB holds them.
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("message-id")
                .then(|| value.trim().to_string())
        })
}

fn mailbox(key: &str, value: &str) -> Result<Mailbox, DeliverError> {
    value
        .parse()
        .map_err(|e: lettre::address::AddressError| DeliverError::Address {
            key: key.to_string(),
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
    // The To header set once: lettre's `to()` rebuilds the header for every address it
    // adds, so a thousand recipients took seconds.
    let mut to = lettre::message::Mailboxes::new();
    for r in recipients {
        to.push(mailbox("alerts.recipients", r)?);
    }
    if !recipients.is_empty() {
        builder = builder.header(lettre::message::header::To::from(to));
    }
    let images: Vec<(&str, &Vec<u8>)> = email
        .chart
        .iter()
        .map(|png| (crate::notify::email::CHART_CID, png))
        .chain(
            email
                .award_charts
                .iter()
                .map(|(cid, png)| (cid.as_str(), png)),
        )
        .collect();
    let body = if images.is_empty() {
        MultiPart::alternative_plain_html(email.text.clone(), email.html.clone())
    } else {
        // alternative(text, related(html, charts)): clients that show HTML show the
        // charts.
        let mut related = MultiPart::related().singlepart(SinglePart::html(email.html.clone()));
        for (cid, png) in images {
            related = related.singlepart(Attachment::new_inline(cid.to_string()).body(
                png.clone(),
                ContentType::parse("image/png").expect("image/png is a valid content type"),
            ));
        }
        MultiPart::alternative()
            .singlepart(SinglePart::plain(email.text.clone()))
            .multipart(related)
    };
    builder.multipart(body).map_err(|e| DeliverError::Build {
        key: email.key.clone(),
        reason: e.to_string(),
    })
}

/// Builds every email into a queued message (one body, a delivery per recipient, so an
/// address the server refuses fails alone). Nothing is queued if one email cannot be
/// built.
pub(crate) fn queue(
    emails: &[AlertEmail],
    config: &EmailConfig,
    recipients: &[String],
    date: SystemTime,
) -> Result<Vec<Queued>, DeliverError> {
    emails
        .iter()
        .map(|e| {
            Ok(Queued {
                message_id: message_id(e),
                kind: e.kind,
                award: e.award.clone(),
                subject: e.subject.clone(),
                recipients: recipients.to_vec(),
                eml: build(e, &config.from, recipients, date)?.formatted(),
                channel: None,
            })
        })
        .collect()
}

/// Every problem a run would meet before it sends (checked by `check-config`, and by
/// `run` before it commits anything): the sender and each recipient as lettre reads
/// them, a message built to all of them, the SMTP password and CA file, the `.eml`
/// folder. Each is checked on its own, so all are named at once.
pub fn problems(config: &EmailConfig, recipients: &[String]) -> Vec<DeliverError> {
    let mut out = Vec::new();
    let from = mailbox("email.from", &config.from)
        .map_err(|e| out.push(e))
        .ok();
    let mut good = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        match mailbox(&format!("alerts.recipients[{i}]"), r) {
            Ok(_) => good.push(r.clone()),
            Err(e) => out.push(e),
        }
    }
    if from.is_some() && out.is_empty() {
        let probe =
            crate::notify::email::render_test("the check", &good, DateTime::<Utc>::UNIX_EPOCH);
        if let Err(e) = build(&probe, &config.from, &good, SystemTime::UNIX_EPOCH) {
            out.push(e);
        }
    }
    match &config.transport {
        TransportConfig::File { .. } => {}
        TransportConfig::Smtp(smtp) => {
            if let (Some(_), Some(source)) = (&smtp.username, &smtp.password) {
                if let Err(e) = read_password(source) {
                    out.push(e);
                }
            }
            if let Some(ca) = &smtp.ca_file {
                if let Err(e) = read_ca(ca) {
                    out.push(e);
                }
            }
        }
    }
    if out.is_empty() {
        match Transport::from_config(config) {
            Ok(t) => {
                if let Err(e) = t.check() {
                    out.push(e);
                }
            }
            Err(e) => out.push(e),
        }
    }
    out
}

fn read_ca(ca: &Path) -> Result<Certificate, DeliverError> {
    let pem = crate::read_bounded(ca, crate::MAX_SECRET_FILE).map_err(|e| DeliverError::Setup {
        key: "email.smtp.ca_file",
        message: format!("{}: {e}", ca.display()),
    })?;
    // rustls' PEM reader takes a file with no certificate in it as an empty list.
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(DeliverError::Setup {
            key: "email.smtp.ca_file",
            message: format!(
                "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA's certificate",
                ca.display()
            ),
        });
    }
    Certificate::from_pem(&pem).map_err(|e| DeliverError::Setup {
        key: "email.smtp.ca_file",
        message: format!("{}: not a PEM certificate: {e}", ca.display()),
    })
}

/// Where messages go.
pub(crate) enum Transport {
    File(PathBuf),
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// Bound on one whole delivery: connect, TLS, auth and every command.
        limit: Duration,
        from: Address,
        redactor: Redactor,
        /// `host:port`, for messages.
        server: String,
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

/// A secret's text, from its variable or its file (at most `MAX_SECRET_FILE`, UTF-8,
/// the trailing line break dropped); the error says what is wrong with the source.
pub(crate) fn secret_text(source: &SecretSource) -> Result<String, String> {
    match source {
        SecretSource::Env(var) => {
            std::env::var(var).map_err(|_| format!("the environment variable {var} is not set"))
        }
        SecretSource::File(path) => crate::read_bounded(path, crate::MAX_SECRET_FILE)
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text")
                })
            })
            .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// The SMTP password, read when the transport is built; Debug prints `[REDACTED]`.
fn read_password(source: &SecretSource) -> Result<SecretString, DeliverError> {
    secret_text(source)
        .map(SecretString::from)
        .map_err(|message| DeliverError::Setup {
            key: match source {
                SecretSource::Env(_) => "email.smtp.password_env",
                SecretSource::File(_) => "email.smtp.password_file",
            },
            message,
        })
}

fn smtp(config: &SmtpConfig, from: &str) -> Result<Transport, DeliverError> {
    let mut tls = TlsParameters::builder(config.host.clone());
    if let Some(ca) = &config.ca_file {
        tls = tls.add_root_certificate(read_ca(ca)?);
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
    let mut redactor = Redactor::default();
    if let (Some(user), Some(source)) = (&config.username, &config.password) {
        let password = read_password(source)?;
        redactor = Redactor::new(user, password.expose_secret());
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
        redactor,
        server: format!("{}:{}", config.host, config.port),
    })
}

impl Transport {
    pub(crate) fn from_config(config: &EmailConfig) -> Result<Transport, DeliverError> {
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
        crate::writable_folder(dir).map_err(|e| {
            fail(match e {
                crate::Unwritable::NotAFolder => {
                    "it exists and is not a folder; set email.outbox to a folder".to_string()
                }
                crate::Unwritable::Create(e) => format!(
                    "the folder cannot be created ({e}); set email.outbox to a writable folder"
                ),
                crate::Unwritable::Write(e) => format!(
                    "the folder cannot be written ({e}); give creditburn write access to it"
                ),
            })
        })
    }

    /// Where messages go, for people.
    pub(crate) fn describe(&self) -> String {
        match self {
            Transport::File(dir) => dir.display().to_string(),
            Transport::Smtp { .. } => "SMTP".to_string(),
        }
    }

    /// Delivers one message to one recipient.
    pub async fn send(
        &self,
        message_id: &str,
        recipient: &str,
        eml: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Transport::File(dir) => {
                let unwritable = |message: String| SendError {
                    failure: Failure::Unreachable,
                    message,
                };
                std::fs::create_dir_all(dir)
                    .map_err(|e| unwritable(format!("{}: {e}", dir.display())))?;
                // Every recipient of a message shares the one file, written whole (by a
                // rename) for the first of them. A file already there is this message
                // only if it carries its Message-ID; another's keeps its name and this
                // one takes the next free one.
                let stem = file_stem(message_id);
                for n in 1..=100 {
                    let path = if n == 1 {
                        dir.join(format!("{stem}.eml"))
                    } else {
                        dir.join(format!("{stem}.{n}.eml"))
                    };
                    if !path.exists() {
                        return write_atomically(&path, eml).map_err(|e| {
                            // The folder takes files: the problem is this message's.
                            let failure = if crate::writable_folder(dir).is_ok() {
                                Failure::Transient
                            } else {
                                Failure::Unreachable
                            };
                            SendError {
                                failure,
                                message: e.to_string(),
                            }
                        });
                    }
                    if message_id_of_file(&path).as_deref() == Some(message_id) {
                        return Ok(());
                    }
                }
                Err(SendError {
                    failure: Failure::Transient,
                    message: format!(
                        "{}: a hundred files named like {stem}.eml hold other messages",
                        dir.display()
                    ),
                })
            }
            Transport::Smtp {
                transport,
                limit,
                from,
                redactor,
                server,
            } => {
                let to = recipient
                    .parse::<Mailbox>()
                    .map(|m| vec![m.email])
                    .map_err(|e| SendError {
                        failure: Failure::Refused,
                        message: format!("{recipient:?} is not an address: {e}"),
                    })?;
                let envelope = Envelope::new(Some(from.clone()), to).map_err(|e| SendError {
                    failure: Failure::Refused,
                    message: format!("envelope: {e}"),
                })?;
                match tokio::time::timeout(*limit, transport.send_raw(&envelope, eml)).await {
                    Err(_) => Err(SendError {
                        failure: Failure::Unreachable,
                        message: format!(
                            "no answer from the SMTP server {server} within {limit:?}"
                        ),
                    }),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => {
                        let failure = classify(&e);
                        let text = redactor.clean(&smtp_error(&e));
                        Err(SendError {
                            failure,
                            message: match failure {
                                Failure::Unreachable => format!(
                                    "SMTP server {server}: {text}; check email.smtp.host and port, and that the server is up"
                                ),
                                _ => format!("SMTP server {server}: {text}"),
                            },
                        })
                    }
                }
            }
        }
    }
}

/// Reply codes and enhanced status codes that are the operator's to fix, not the
/// message's: authentication (530, 534, 535, 538, 454, x.7.8, x.7.0 as AUTH answers) and a
/// refused sender (x.1.7, x.1.8).
fn operator_problem(e: &lettre::transport::smtp::Error) -> bool {
    let code = e.status().map(|c| c.to_string());
    if matches!(code.as_deref(), Some("530" | "534" | "535" | "538" | "454")) {
        return true;
    }
    let text = e.to_string();
    ["5.7.8", "4.7.8", "5.1.7", "5.1.8", "4.1.8"]
        .iter()
        .any(|enhanced| text.contains(enhanced))
}

/// Whether the TLS layer failed: rustls' errors (a handshake with a server that speaks
/// plaintext, an unknown CA, a name mismatch) reach lettre as I/O errors of kind
/// `InvalidData`, wrapped as connection errors.
fn tls_failure(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            return true;
        }
        source = err.source();
    }
    false
}

fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    let certificate = smtp_error(e).contains("certificate");
    if operator_problem(e) || certificate || tls_failure(e) || e.is_tls() || e.is_client() {
        Failure::Held
    } else if e.is_permanent() {
        Failure::Refused
    } else if e.is_transient() {
        Failure::Transient
    } else {
        Failure::Unreachable
    }
}

/// A lettre error and its sources, one line, each cause once.
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    crate::model::text::error_line(e)
}

/// One delivery: the message's subject and its recipient.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sent {
    pub subject: String,
    pub recipient: String,
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SendReport {
    pub sent: Vec<Sent>,
    /// Deliveries that will be tried again in a later run, with the error.
    pub retrying: Vec<(Sent, String)>,
    /// Deliveries refused for good, with the error.
    pub failed: Vec<(Sent, String)>,
    /// Deliveries not tried because the server could not be reached.
    pub waiting: usize,
    /// Why every queued email is held (the operator's to fix), and how many are.
    pub held: Option<(String, u64)>,
    /// The channels whose queue is held (a revoked webhook, a refused signature, SNS
    /// refusing the credentials): (channel, why, how many deliveries).
    pub held_channels: Vec<(String, String, u64)>,
}

/// Sends every delivery due at `now`, marking each sent, to retry, or failed, one commit
/// each, so a kill loses at most the knowledge that the in-flight one went out. When the
/// server cannot be reached at all, the pass stops there: the rest stay due and are tried
/// by the next run. When the problem is the operator's (a refused login), every queued
/// delivery is held, with no attempt counted.
pub(crate) async fn send_due(
    transport: &Transport,
    channels: &channel::Channels,
    outbox: &mut Outbox,
    now: DateTime<Utc>,
    retry: &Retry,
) -> Result<SendReport, StoreError> {
    let mut report = match transport {
        Transport::File(_) => write_due(transport, outbox, now, retry).await?,
        Transport::Smtp { .. } => send_email(transport, outbox, now, retry).await?,
    };
    channels.send_due(outbox, now, retry, &mut report).await?;
    Ok(report)
}

/// The email pass over SMTP: one delivery per recipient.
async fn send_email(
    transport: &Transport,
    outbox: &mut Outbox,
    now: DateTime<Utc>,
    retry: &Retry,
) -> Result<SendReport, StoreError> {
    let mut report = SendReport::default();
    // This pass's refusals: (delivery, message, recipient, error).
    let mut refusals: Vec<(i64, String, String, String)> = Vec::new();
    for due in outbox.due_via(now, Via::Email)? {
        crate::failpoint("before-send");
        let who = Sent {
            subject: due.subject.clone(),
            recipient: due.recipient.clone(),
        };
        match transport
            .send(&due.message_id, &due.recipient, &due.eml)
            .await
        {
            Ok(()) => {
                crate::failpoint("after-send");
                outbox.mark_sent(due.id, now)?;
                report.sent.push(who);
            }
            Err(e) => match e.failure {
                Failure::Refused => {
                    outbox.mark_failed(due.id, &e.message, now)?;
                    // The same refusal for another message and another recipient is
                    // not about either: the server refuses the sender (or relaying).
                    let senders = refusals.iter().any(|(_, m, r, text)| {
                        *text == e.message && *m != due.message_id && *r != due.recipient
                    });
                    refusals.push((
                        due.id,
                        due.message_id.clone(),
                        due.recipient.clone(),
                        e.message.clone(),
                    ));
                    if senders {
                        let same: Vec<i64> = refusals
                            .iter()
                            .filter(|r| r.3 == e.message)
                            .map(|r| r.0)
                            .collect();
                        let message = format!(
                            "{} (the same refusal for every message and recipient: the server refuses the sender email.from or relaying)",
                            e.message
                        );
                        outbox.requeue(&same, &message)?;
                        report.failed.retain(|(_, error)| *error != e.message);
                        let held = outbox.mark_held(&message, Via::Email)?;
                        report.held = Some((message, held));
                        break;
                    }
                    report.failed.push((who, e.message));
                }
                Failure::Held => {
                    let held = outbox.mark_held(&e.message, Via::Email)?;
                    report.held = Some((e.message, held));
                    break;
                }
                Failure::Transient | Failure::Unreachable => {
                    if outbox.mark_retry(&due, &e.message, now, retry)? {
                        report.retrying.push((who, e.message.clone()));
                    } else {
                        report.failed.push((who, e.message.clone()));
                    }
                    if e.failure == Failure::Unreachable {
                        report.waiting = outbox.due_via(now, Via::Email)?.len();
                        break;
                    }
                }
            },
        }
    }
    Ok(report)
}

/// The `.eml` folder's pass: one file holds a message for all its recipients, so each
/// message is written once and its deliveries are marked sent in one commit (a thousand
/// recipients cost one write and one commit, not a thousand of each).
async fn write_due(
    transport: &Transport,
    outbox: &mut Outbox,
    now: DateTime<Utc>,
    retry: &Retry,
) -> Result<SendReport, StoreError> {
    let mut report = SendReport::default();
    let due = outbox.due_via(now, Via::Email)?;
    for group in due.chunk_by(|a, b| a.message_id == b.message_id) {
        let first = &group[0];
        crate::failpoint("before-send");
        match transport
            .send(&first.message_id, &first.recipient, &first.eml)
            .await
        {
            Ok(()) => {
                crate::failpoint("after-send");
                let ids: Vec<i64> = group.iter().map(|d| d.id).collect();
                outbox.mark_all_sent(&ids, now)?;
                report.sent.extend(group.iter().map(|d| Sent {
                    subject: d.subject.clone(),
                    recipient: d.recipient.clone(),
                }));
            }
            Err(e) => {
                let who = Sent {
                    subject: first.subject.clone(),
                    recipient: first.recipient.clone(),
                };
                let mut again = false;
                for d in group {
                    again |= outbox.mark_retry(d, &e.message, now, retry)?;
                }
                if again {
                    report.retrying.push((who, e.message.clone()));
                } else {
                    report.failed.push((who, e.message.clone()));
                }
                // A problem of this message's alone: the others still go.
                if e.failure == Failure::Unreachable {
                    report.waiting = outbox.due_via(now, Via::Email)?.len();
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::*;

    fn leaks(text: &str, password: &str) -> bool {
        let std = base64::engine::general_purpose::STANDARD;
        text.contains(password)
            || text.contains(std.encode(password).trim_end_matches('='))
            || text.contains(std.encode(format!("\0u\0{password}")).trim_end_matches('='))
    }

    #[test]
    fn plain_and_encoded_credentials_are_redacted_and_the_rest_kept() {
        let r = Redactor::new("u", "hunter2-secret");
        let std = base64::engine::general_purpose::STANDARD;
        for reply in [
            "535 5.7.8 failed for hunter2-secret".to_string(),
            format!("535 AUTH PLAIN {}", std.encode("\0u\0hunter2-secret")),
            format!("535 arg={}", std.encode("xx hunter2-secret yy")),
            format!("535 {}", std.encode("hunter2-secret").trim_end_matches('=')),
        ] {
            let clean = r.clean(&reply);
            assert!(!leaks(&clean, "hunter2-secret"), "{reply} -> {clean}");
            assert!(clean.starts_with("535"), "{clean}");
            assert!(clean.contains("[redacted]"), "{clean}");
        }
        assert_eq!(
            r.clean("550 5.1.1 <cfo@example.com>: no such user\r\n"),
            "550 5.1.1 <cfo@example.com>: no such user  "
        );
        let long = r.clean(&"x".repeat(10_000));
        assert!(
            long.chars().count() < MAX_SERVER_TEXT + 10,
            "{}",
            long.len()
        );
    }

    proptest! {
        #[test]
        fn no_reply_keeps_the_password_in_any_form(
            password in "[ -~]{6,24}",
            before in "[ -~]{0,80}",
            after in "[ -~]{0,80}",
            form in 0usize..4,
        ) {
            let std = base64::engine::general_purpose::STANDARD;
            let embedded = match form {
                0 => password.clone(),
                1 => std.encode(&password),
                2 => std.encode(format!("\0u\0{password}")),
                _ => std.encode(format!("{before}{password}{after}")),
            };
            let r = Redactor::new("u", &password);
            let clean = r.clean(&format!("535 {before} {embedded} {after}"));
            prop_assert!(!clean.contains(&password), "{clean}");
            prop_assert!(!clean.contains(std.encode(&password).trim_end_matches('=')), "{clean}");
        }
    }
}
