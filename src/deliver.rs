//! Delivery: turning rendered emails into MIME messages with lettre and putting them in
//! the outbox folder as `.eml` files. The only module that knows lettre.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use crate::config::EmailConfig;
use crate::email::AlertEmail;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("{key}: {value:?} is not a valid email address: {reason}")]
    Address {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("building the email for award {award}: {reason}")]
    Build { award: String, reason: String },
    #[error("{}: cannot write to the outbox: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Builds the multipart (plain text + HTML) message for one email.
pub fn build(
    email: &AlertEmail,
    config: &EmailConfig,
    recipients: &[String],
    date: SystemTime,
) -> Result<Message, DeliverError> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| DeliverError::Address {
            key: "email.from",
            value: config.from.clone(),
            reason: e.to_string(),
        })?;
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}@creditburn>", email.key)))
        .date(date);
    for r in recipients {
        let to: Mailbox =
            r.parse()
                .map_err(|e: lettre::address::AddressError| DeliverError::Address {
                    key: "alerts.recipients",
                    value: r.clone(),
                    reason: e.to_string(),
                })?;
        builder = builder.to(to);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| DeliverError::Build {
            award: email.award.clone(),
            reason: e.to_string(),
        })
}

/// Builds every message first, then writes each as `<outbox>/<key>.eml` (via a temporary
/// file and a rename, so a reader never sees half a message). Returns the paths written.
/// Rerunning on the same day rewrites the same files rather than adding copies.
pub fn write_outbox(
    emails: &[AlertEmail],
    config: &EmailConfig,
    recipients: &[String],
    date: SystemTime,
) -> Result<Vec<PathBuf>, DeliverError> {
    let messages = emails
        .iter()
        .map(|e| Ok((e, build(e, config, recipients, date)?)))
        .collect::<Result<Vec<_>, DeliverError>>()?;
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let outbox = &config.outbox;
    std::fs::create_dir_all(outbox).map_err(|source| DeliverError::Write {
        path: outbox.clone(),
        source,
    })?;
    let mut written = Vec::new();
    for (email, message) in messages {
        let path = outbox.join(format!("{}.eml", crate::file_safe(&email.key)));
        write_atomically(&path, &message.formatted())?;
        written.push(path);
    }
    Ok(written)
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
