//! `creditburn iam-policy`: the permissions a configuration needs. The base is
//! deploy/iam-policy.json itself (compiled in, so the file and the command cannot
//! drift); each SNS channel adds `sns:Publish` on its own topic, and on nothing else.

use serde_json::{json, Value};

use crate::config::{ChannelKind, Config};

/// The shipped policy: reading Cost Explorer and the Billing credits.
const BASE: &str = include_str!("../../deploy/iam-policy.json");

/// The policy for `config`, pretty-printed JSON.
pub(super) fn policy(config: &Config) -> String {
    let mut policy: Value = serde_json::from_str(BASE).expect("deploy/iam-policy.json is JSON");
    let mut topics: Vec<&str> = config
        .channels
        .iter()
        .filter_map(|c| match &c.kind {
            ChannelKind::Sns { topic_arn, .. } => Some(topic_arn.as_str()),
            _ => None,
        })
        .collect();
    topics.sort();
    topics.dedup();
    if !topics.is_empty() {
        policy["Statement"]
            .as_array_mut()
            .expect("the policy has statements")
            .push(json!({
                "Sid": "CreditburnAlertsPublish",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": topics,
            }));
    }
    serde_json::to_string_pretty(&policy).expect("a JSON value serialises")
}
