//! `creditburn iam-policy`: the permissions a configuration needs. The base is
//! deploy/iam-policy.json itself (compiled in, so the file and the command cannot
//! drift); each SNS channel adds `sns:Publish` on its own topic, and on nothing else; an
//! export in S3 adds listing its prefix and reading its objects; the Athena source its
//! workgroup's query actions, the table's catalog entries and the results location.

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
    if let crate::config::SourceConfig::Athena(source) = &config.source {
        let statements = policy["Statement"]
            .as_array_mut()
            .expect("the policy has statements");
        statements.push(json!({
            "Sid": "CreditburnAthenaQuery",
            "Effect": "Allow",
            "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
            "Resource": format!("arn:aws:athena:*:*:workgroup/{}", source.workgroup),
        }));
        statements.push(json!({
            "Sid": "CreditburnAthenaCatalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions"],
            "Resource": [
                "arn:aws:glue:*:*:catalog",
                format!("arn:aws:glue:*:*:database/{}", source.database),
                format!("arn:aws:glue:*:*:table/{}/{}", source.database, source.table),
            ],
        }));
        // The table's data (the CUR export's bucket and prefix, which only the table's
        // LOCATION knows: deploy/README.md) and the query results.
        let mut results = vec![];
        if let Some(loc) = &source.output_location {
            if let Ok(at) = crate::config::S3Location::parse(loc) {
                results.push(at);
            }
        }
        statements.push(json!({
            "Sid": "CreditburnAthenaResults",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": if results.is_empty() {
                // The workgroup's own output location.
                vec!["arn:aws:s3:::aws-athena-query-results-*".to_string(), "arn:aws:s3:::aws-athena-query-results-*/*".to_string()]
            } else {
                results
                    .iter()
                    .flat_map(|at| [format!("arn:aws:s3:::{}", at.bucket), format!("arn:aws:s3:::{}/{}*", at.bucket, at.prefix)])
                    .collect()
            },
        }));
    }
    if let crate::config::SourceConfig::Export(source) = &config.source {
        if let crate::config::ExportLocation::S3(at) = &source.location {
            // Reading the export: listing its prefix and getting its objects, nothing else.
            let statements = policy["Statement"]
                .as_array_mut()
                .expect("the policy has statements");
            statements.push(json!({
                "Sid": "CreditburnExportList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": format!("arn:aws:s3:::{}", at.bucket),
                "Condition": {"StringLike": {"s3:prefix": [format!("{}*", at.prefix)]}},
            }));
            statements.push(json!({
                "Sid": "CreditburnExportRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": format!("arn:aws:s3:::{}/{}*", at.bucket, at.prefix),
            }));
        }
    }
    serde_json::to_string_pretty(&policy).expect("a JSON value serialises")
}
