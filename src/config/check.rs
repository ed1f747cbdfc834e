//! The checks of a parsed config, one per section (vector's `check_*` style): each reads
//! its raw section, adds every problem it finds (named by key) and returns the typed
//! section, so one bad section never hides another's problems.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};

use crate::model::line::ExportFormat;

use super::*;

pub(super) fn check_source(
    raw: &RawSource,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> SourceConfig {
    if raw.kind != "athena" {
        for key in raw.athena_keys() {
            p.add(
                format!("source.{key}"),
                "is only read when source.kind is \"athena\"",
            );
        }
    }
    match raw.kind.as_str() {
        "fixtures" => {
            for key in raw.aws_keys() {
                p.add(
                    format!("source.{key}"),
                    "is only read when source.kind is \"aws\"",
                );
            }
            match &raw.path {
                Some(path) if !path.trim().is_empty() => SourceConfig::Fixtures {
                    path: resolve(path),
                },
                _ => {
                    p.add(
                        "source.path",
                        "is required when source.kind is \"fixtures\" (the recording's folder)",
                    );
                    SourceConfig::Fixtures {
                        path: PathBuf::new(),
                    }
                }
            }
        }
        "cur" | "focus" => {
            let format = if raw.kind == "cur" {
                ExportFormat::Cur
            } else {
                ExportFormat::Focus
            };
            for key in raw.aws_keys() {
                if !EXPORT_AWS_KEYS.contains(&key) {
                    p.add(
                        format!("source.{key}"),
                        format!(
                            "is not read when source.kind is {:?}: the export is the whole source (its credits included)",
                            raw.kind
                        ),
                    );
                }
            }
            let aws = check_aws(raw, p);
            let location = match raw.path.as_deref().map(str::trim) {
                Some(path) if path.starts_with("s3://") => match S3Location::parse(path) {
                    Ok(at) => ExportLocation::S3(at),
                    Err(why) => {
                        p.add("source.path", why);
                        ExportLocation::Local(PathBuf::new())
                    }
                },
                Some(path) if !path.is_empty() => ExportLocation::Local(resolve(path)),
                _ => {
                    p.add(
                        "source.path",
                        format!(
                            "is required when source.kind is {:?}: the export's folder (holding data/ and metadata/) or one of its files",
                            raw.kind
                        ),
                    );
                    ExportLocation::Local(PathBuf::new())
                }
            };
            SourceConfig::Export(ExportSource {
                format,
                location,
                aws,
            })
        }
        "athena" => {
            for key in raw.aws_keys() {
                if !EXPORT_AWS_KEYS.contains(&key) {
                    p.add(
                        format!("source.{key}"),
                        "is not read when source.kind is \"athena\" (cap the scan with max_scanned_gb)",
                    );
                }
            }
            if let Some(path) = &raw.path {
                p.add(
                    "source.path",
                    format!("{path:?} is not read when source.kind is \"athena\": give database and table"),
                );
            }
            let aws = check_aws(raw, p);
            let mut name = |key: &str, value: &Option<String>, default: Option<&str>| -> String {
                match value.as_deref().or(default) {
                    Some(v)
                        if !v.trim().is_empty()
                            && v.trim() == v
                            && !v.chars().any(char::is_control) =>
                    {
                        v.to_string()
                    }
                    Some(v) => {
                        p.add(
                            format!("source.{key}"),
                            format!(
                                "{v:?} is empty, has white space around it or a control character"
                            ),
                        );
                        String::new()
                    }
                    None => {
                        p.add(format!("source.{key}"), "is required when source.kind is \"athena\" (the CUR 2.0 table's database and name; deploy/README.md)");
                        String::new()
                    }
                }
            };
            let database = name("database", &raw.database, None);
            let table = name("table", &raw.table, None);
            let workgroup = name("workgroup", &raw.workgroup, Some("primary"));
            if let Some(loc) = &raw.output_location {
                if let Err(why) = S3Location::parse(loc) {
                    p.add("source.output_location", why);
                }
            }
            let max_scanned_bytes = raw.max_scanned_gb.and_then(|gb| {
                if gb.is_finite() && gb > 0.0 && gb <= 1e6 {
                    Some((gb * 1e9) as u64)
                } else {
                    p.add(
                        "source.max_scanned_gb",
                        format!("{gb} is not a number of gigabytes above 0"),
                    );
                    None
                }
            });
            SourceConfig::Athena(AthenaSource {
                database,
                table,
                workgroup,
                output_location: raw.output_location.clone(),
                max_scanned_bytes,
                aws,
            })
        }
        "aws" => {
            if let Some(path) = &raw.path {
                p.add(
                    "source.path",
                    format!("{path:?} is only read when source.kind is \"fixtures\""),
                );
            }
            SourceConfig::Aws(check_aws(raw, p))
        }
        other => {
            p.add(
                "source.kind",
                format!("{other:?} is not a source; use \"aws\" (Cost Explorer), \"cur\" or \"focus\" (an export's line items), \"athena\" (the CUR 2.0 table), or \"fixtures\""),
            );
            SourceConfig::Fixtures {
                path: PathBuf::new(),
            }
        }
    }
}

/// The `[source]` keys a line-item export reads (to reach S3): the connection's.
const EXPORT_AWS_KEYS: [&str; 6] = [
    "profile",
    "region",
    "max_attempts",
    "connect_timeout_seconds",
    "attempt_timeout_seconds",
    "operation_timeout_seconds",
];

pub(super) fn check_email(
    raw: &RawEmail,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> EmailConfig {
    let transport = check_transport(raw, resolve, p);
    if !(0..=MAX_DIGEST_DAYS).contains(&raw.digest_every_days) {
        p.add(
            "email.digest_every_days",
            format!(
                "{} is outside 0..={MAX_DIGEST_DAYS}; use 0 to send no digest",
                raw.digest_every_days
            ),
        );
    }
    for (key, v, unit, max) in [
        (
            "email.retry_base_minutes",
            raw.retry_base_minutes,
            "minutes",
            MAX_RETRY_BASE_MINUTES,
        ),
        (
            "email.retry_max_hours",
            raw.retry_max_hours,
            "hours",
            MAX_RETRY_MAX_HOURS,
        ),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= max) {
            p.add(
                key,
                format!("{v} is not a number of {unit} above 0 and at most {max}"),
            );
        }
    }
    if !(1..=MAX_PRUNE_DAYS).contains(&raw.prune_after_days) {
        p.add(
            "email.prune_after_days",
            format!(
                "{} is outside 1..={MAX_PRUNE_DAYS} (days a delivered message is kept)",
                raw.prune_after_days
            ),
        );
    }
    if !(1..=MAX_SEND_ATTEMPTS).contains(&raw.max_attempts) {
        p.add(
            "email.max_attempts",
            format!(
                "{} is outside 1..={MAX_SEND_ATTEMPTS} (0 would never send)",
                raw.max_attempts
            ),
        );
    }
    if !looks_like_address(&raw.from) {
        p.add(
            "email.from",
            format!("{:?} is not an email address", raw.from),
        );
    }
    EmailConfig {
        from: raw.from.clone(),
        transport,
        digest_every_days: raw.digest_every_days,
        retry_base_minutes: raw.retry_base_minutes,
        retry_max_hours: raw.retry_max_hours,
        max_attempts: raw.max_attempts,
        prune_after_days: raw.prune_after_days,
    }
}

pub(super) fn check_alerts(raw: &RawAlerts, p: &mut Problems) -> AlertConfig {
    if raw.recipients.is_empty() {
        p.add(
            "alerts.recipients",
            "is empty; name at least one finance address",
        );
    }
    for (i, r) in raw.recipients.iter().enumerate() {
        if !looks_like_address(r) {
            p.add(
                format!("alerts.recipients[{i}]"),
                format!("{r:?} is not an email address"),
            );
        }
    }
    for (i, t) in raw.thresholds.iter().enumerate() {
        if !(t.is_finite() && *t > 0.0 && *t <= 1000.0) {
            p.add(
                format!("alerts.thresholds[{i}]"),
                format!("{t} is not a percentage between 0 (exclusive) and 1000"),
            );
        }
    }
    let mut thresholds = raw.thresholds.clone();
    thresholds.sort_by(|a, b| a.total_cmp(b));
    thresholds.dedup();
    if !(0..=MAX_SLACK_DAYS).contains(&raw.slack_days) {
        p.add(
            "alerts.slack_days",
            format!("{} is outside 0..={MAX_SLACK_DAYS} days", raw.slack_days),
        );
    }
    let repeat = raw.repeat_interval_hours;
    if !(repeat.is_finite() && repeat > 0.0 && repeat <= MAX_REPEAT_HOURS) {
        p.add(
            "alerts.repeat_interval_hours",
            format!(
                "{repeat} is not a number of hours above 0 and at most {MAX_REPEAT_HOURS} (a year)"
            ),
        );
    }
    let drift = raw.drift_tolerance_percent;
    if !(drift.is_finite() && (0.0..=100.0).contains(&drift)) {
        p.add(
            "alerts.drift_tolerance_percent",
            format!("{drift} is not a percentage between 0 and 100"),
        );
    }
    let amount = raw.spike_min_amount;
    if !(amount.is_finite() && amount >= 0.0) {
        p.add(
            "alerts.spike_min_amount",
            format!("{amount} is not an amount of dollars, 0 or more"),
        );
    }
    let share = raw.spike_min_share;
    if !(share.is_finite() && (0.0..=100.0).contains(&share)) {
        p.add(
            "alerts.spike_min_share",
            format!("{share} is not a share of the expected day between 0 and 100"),
        );
    }
    AlertConfig {
        recipients: raw.recipients.clone(),
        thresholds,
        slack_days: raw.slack_days,
        drift_tolerance_percent: raw.drift_tolerance_percent,
        repeat_interval_hours: raw.repeat_interval_hours,
        spike_min_amount: raw.spike_min_amount,
        spike_min_share: raw.spike_min_share,
    }
}

pub(super) fn check_analysis(raw: &RawAnalysis, p: &mut Problems) -> AnalysisConfig {
    let drawdown_order = match raw.drawdown_order.as_deref() {
        None | Some("aws") => DrawdownOrder::Aws,
        Some("listed") => DrawdownOrder::Listed,
        Some(other) => {
            p.add(
                "analysis.drawdown_order",
                format!("{other:?} is not \"aws\" (soonest expiry first, the default) or \"listed\" (the order of [[awards]] in this file)"),
            );
            DrawdownOrder::Aws
        }
    };
    if !(1..=90).contains(&raw.burn_window_days) {
        p.add(
            "analysis.burn_window_days",
            format!("{} is outside 1..=90", raw.burn_window_days),
        );
    }
    AnalysisConfig {
        burn_window_days: raw.burn_window_days,
        drawdown_order,
    }
}

/// A share (0 to 1) where one is given.
fn share(key: String, v: Option<f64>, p: &mut Problems) -> Option<f64> {
    match v {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            p.add(key, format!("{v} is not a share between 0 and 1"));
            None
        }
        other => other,
    }
}

pub(super) fn check_plan(raw: &RawPlan, p: &mut Problems) -> PlanConfig {
    let known = || {
        Program::PROPOSABLE
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !(0..=365).contains(&raw.alert_days_before) {
        p.add(
            "plan.alert_days_before",
            format!(
                "{} is not a number of days from 0 to 365",
                raw.alert_days_before
            ),
        );
    }
    let mut lead_days = Vec::new();
    for (name, days) in &raw.lead_days {
        let key = format!("plan.lead_days.{name}");
        match Program::from_name(name).filter(|p| p.terms().is_some()) {
            None => p.add(key, format!("{name:?} is not a program ({})", known())),
            Some(_) if !(0..=365).contains(days) => {
                p.add(key, format!("{days} is not a number of days from 0 to 365"))
            }
            Some(program) => lead_days.push((program, *days)),
        }
    }
    let mut exclude = Vec::new();
    for (i, name) in raw.exclude.iter().enumerate() {
        match Program::from_name(name).filter(|p| p.terms().is_some()) {
            None => p.add(
                format!("plan.exclude[{i}]"),
                format!("{name:?} is not a program ({})", known()),
            ),
            Some(program) => exclude.push(program),
        }
    }
    PlanConfig {
        alert_days_before: raw.alert_days_before.clamp(0, 365),
        lead_days,
        exclude,
        assume_levers: raw.assume_levers,
    }
}

pub(super) fn check_hints(raw: &RawHints, p: &mut Problems) -> HintConfig {
    let cacheable = share(
        "hints.cacheable_input_share".into(),
        raw.cacheable_input_share,
        p,
    );
    let routine = share("hints.downsize_share".into(), raw.downsize_share, p);
    if !raw.min_monthly_saving.is_finite() || raw.min_monthly_saving < 0.0 {
        p.add(
            "hints.min_monthly_saving",
            format!("{} is not an amount of 0 or more", raw.min_monthly_saving),
        );
    }
    if !(0..=MAX_START_AFTER_DAYS).contains(&raw.start_after_days) {
        p.add(
            "hints.start_after_days",
            format!(
                "{} is not a number of days from 0 to {MAX_START_AFTER_DAYS}",
                raw.start_after_days
            ),
        );
    }
    HintConfig {
        cacheable_share: cacheable,
        routine_share: routine,
        min_monthly_saving: raw.min_monthly_saving,
        start_after_days: raw.start_after_days.clamp(0, MAX_START_AFTER_DAYS),
    }
}

/// `[pricing]`: the table of one's own (read by `config::load`) and the overrides.
pub(super) fn check_pricing(
    raw: &RawPricing,
    resolve: &dyn Fn(&str) -> std::path::PathBuf,
    p: &mut Problems,
) -> PricingConfig {
    let table = match raw.table.as_deref() {
        Some(t) if t.trim().is_empty() => {
            p.add(
                "pricing.table",
                "is empty; give the path of a price table, or leave it out to use the shipped one",
            );
            None
        }
        other => other.map(resolve),
    };
    let mut overrides = Vec::new();
    for (i, o) in raw.overrides.iter().enumerate() {
        match crate::pricing::Override::check(o, &format!("pricing.overrides[{i}]")) {
            Ok(o) => overrides.push(o),
            Err(problems) => {
                for q in problems {
                    p.add(q.key, q.message);
                }
            }
        }
    }
    PricingConfig { table, overrides }
}

pub(super) fn check_workloads(raw: &[RawWorkload], p: &mut Problems) -> Vec<Workload> {
    let mut workloads = Vec::new();
    let mut names = HashSet::new();
    for (i, w) in raw.iter().enumerate() {
        let key = format!("workloads[{i}]");
        if w.name.trim().is_empty() {
            p.add(format!("{key}.name"), "is empty");
        } else if !names.insert(w.name.clone()) {
            p.add(
                format!("{key}.name"),
                format!("{:?} is already the name of another workload", w.name),
            );
        }
        let (services, named_services) = match &w.services {
            None => (ServiceSet::All, Vec::new()),
            Some(list) => parse_services(list, &format!("{key}.services"), p),
        };
        if w.rules.is_empty() {
            p.add(
                format!("{key}.rules"),
                format!(
                    "workload {:?} has no rules, so no spend can reach it",
                    w.name
                ),
            );
        }
        let mut rules = Vec::new();
        for (j, r) in w.rules.iter().enumerate() {
            let rkey = format!("{key}.rules[{j}]");
            let tag = match &r.tag {
                None => None,
                Some(t) => match t.split_once('=') {
                    Some((k, v))
                        if [k, v]
                            .iter()
                            .any(|s| s.trim() != *s || s.chars().any(char::is_control)) =>
                    {
                        p.add(
                            format!("{rkey}.tag"),
                            format!("{t:?} has white space around its key or value, or a control character; Cost Explorer matches tags exactly"),
                        );
                        None
                    }
                    Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                        Some((k.to_string(), v.to_string()))
                    }
                    _ => {
                        p.add(
                            format!("{rkey}.tag"),
                            format!("{t:?} is not of the form key=value"),
                        );
                        None
                    }
                },
            };
            if let Some(a) = &r.account {
                if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                    p.add(
                        format!("{rkey}.account"),
                        format!("{a:?} is not a 12-digit AWS account id"),
                    );
                }
            }
            if let Some(g) = &r.usage_type {
                if g.trim().is_empty() {
                    p.add(format!("{rkey}.usage_type"), "is empty");
                }
            }
            if let Some(g) = &r.iam_principal {
                if !(g.starts_with("arn:") || g.starts_with('*')) || g.trim() != g {
                    p.add(
                        format!("{rkey}.iam_principal"),
                        format!("{g:?} is not an ARN pattern (arn:aws:sts::123456789012:assumed-role/NAME/*, or arn:aws:iam::123456789012:user/NAME)"),
                    );
                }
            }
            if let Some(g) = &r.resource {
                if g.trim().is_empty() || g.trim() != g {
                    p.add(
                        format!("{rkey}.resource"),
                        format!("{g:?} is empty or has white space around it"),
                    );
                }
            }
            if r.tag.is_none()
                && r.account.is_none()
                && r.usage_type.is_none()
                && r.iam_principal.is_none()
                && r.resource.is_none()
            {
                p.add(
                    rkey.clone(),
                    "states no condition; give tag, account, usage_type, iam_principal or resource",
                );
            }
            rules.push(Rule {
                tag,
                account: r.account.clone(),
                usage_type: r.usage_type.clone().map(Glob),
                principal: r.iam_principal.clone().map(Glob),
                resource: r.resource.clone().map(Glob),
            });
        }
        let assumptions = Assumptions {
            batchable_share: share(format!("{key}.batchable_share"), w.batchable_share, p),
            cacheable_share: share(format!("{key}.cacheable_share"), w.cacheable_share, p),
            routine_share: share(format!("{key}.routine_share"), w.routine_share, p),
        };
        workloads.push(Workload {
            name: w.name.clone(),
            priority: w.priority,
            interactive: w.interactive,
            services,
            named_services,
            rules,
            assumptions,
        });
    }
    check_overlaps(&workloads, p);
    // Attribution order: stated priorities first (lowest wins), then file order.
    workloads.sort_by_key(|w| w.priority.unwrap_or(i64::MAX));
    workloads
}

/// The rules the source cannot evaluate: Cost Explorer has no principal or resource
/// dimension and no principal tags; FOCUS has no principal column.
pub(super) fn check_rules_for_source(
    workloads: &[Workload],
    source: &SourceConfig,
    p: &mut Problems,
) {
    let (kind, principal, resource, principal_tags) = match source {
        SourceConfig::Athena(_) => return,
        SourceConfig::Export(e) => match e.format {
            ExportFormat::Cur => return,
            ExportFormat::Focus => ("focus", false, true, false),
        },
        SourceConfig::Aws(_) => ("aws", false, false, false),
        SourceConfig::Fixtures { .. } => ("fixtures", false, false, false),
    };
    let cure = "read the bill's line items instead: source.kind = \"cur\" (a CUR 2.0 export)";
    for (i, w) in workloads.iter().enumerate() {
        for (j, r) in w.rules.iter().enumerate() {
            let rkey = format!("workloads[{i}].rules[{j}]");
            if r.principal.is_some() && !principal {
                p.add(
                    format!("{rkey}.iam_principal"),
                    format!("workload {:?}: source.kind {kind:?} has no IAM principal to match (only CUR 2.0 carries line_item_iam_principal); {cure}", w.name),
                );
            }
            if r.resource.is_some() && !resource {
                p.add(
                    format!("{rkey}.resource"),
                    format!("workload {:?}: source.kind {kind:?} has no resource id to match (Cost Explorer's daily data has no resource dimension); {cure} or \"focus\"", w.name),
                );
            }
            if let Some((key, _)) = &r.tag {
                if key.starts_with(PRINCIPAL_TAG_PREFIX) && !principal_tags {
                    p.add(
                        format!("{rkey}.tag"),
                        format!("workload {:?}: {key:?} is a principal tag, which only CUR 2.0 carries (its tags column); {cure}", w.name),
                    );
                }
            }
        }
    }
}

/// `credit_name` reads the bill's Credit lines, which only a line-item source has.
pub(super) fn check_credit_names(awards: &[Award], source: &SourceConfig, p: &mut Problems) {
    if matches!(source, SourceConfig::Export(_) | SourceConfig::Athena(_)) {
        return;
    }
    for (i, a) in awards.iter().enumerate() {
        if a.credit_name.is_some() {
            p.add(
                format!("{}.credit_name", award_key(i, Some(&a.id))),
                format!(
                    "is read from the bill's Credit lines, which source.kind {:?} does not have; with Cost Explorer, name the credit by credit_id",
                    source.kind()
                ),
            );
        }
    }
}

pub(super) fn check_awards(
    raw: &[RawAward],
    raw_workloads: &[RawWorkload],
    order: DrawdownOrder,
    p: &mut Problems,
) -> Vec<Award> {
    let mut awards: Vec<Award> = Vec::new();
    let mut ids = HashSet::new();
    for (i, a) in raw.iter().enumerate() {
        let key = award_key(i, Some(&a.id));
        if a.id.trim().is_empty() {
            p.add(format!("{key}.id"), "is empty");
        } else if a.id == crate::config::ACCOUNT_KEY {
            p.add(
                format!("{key}.id"),
                format!("{:?} is kept for the account's own alerts (out_of_pocket, apply_by); name the award otherwise", a.id),
            );
        } else if !ids.insert(a.id.clone()) {
            p.add(
                format!("{key}.id"),
                format!("{:?} is already the id of another award", a.id),
            );
        }
        let program = match Program::ALL.iter().find(|(s, _)| *s == a.program) {
            Some((_, prog)) => *prog,
            None => {
                let known: Vec<&str> = Program::ALL.iter().map(|(s, _)| *s).collect();
                p.add(
                    format!("{key}.program"),
                    format!("{:?} is not one of {}", a.program, known.join(", ")),
                );
                Program::Other
            }
        };
        let amount_ok = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_AMOUNT;
        let tranche_total: f64 = a.tranches.iter().map(|t| t.amount).sum();
        match (a.amount, a.tranches.is_empty()) {
            (None, true) => p.add(
                format!("{key}.amount"),
                "is missing; give the award's amount, or its tranches = [{ date = \"YYYY-MM-DD\", amount = ... }]",
            ),
            (Some(v), _) if !amount_ok(v) => p.add(
                format!("{key}.amount"),
                format!(
                    "{v} must be a positive amount of at most {MAX_AMOUNT:.0} (the largest AWS awards are about $1M)"
                ),
            ),
            (Some(v), false) if (v - tranche_total).abs() >= 0.005 => p.add(
                format!("{key}.amount"),
                format!(
                    "{v} is not the sum of its tranches ({tranche_total}); give one or the other, or make them agree"
                ),
            ),
            _ => {}
        }
        if !a.tranches.is_empty() && !amount_ok(tranche_total) {
            p.add(
                format!("{key}.tranches"),
                format!(
                    "add up to {tranche_total}, which must be positive and at most {MAX_AMOUNT:.0}"
                ),
            );
        }
        if a.currency != "USD" {
            p.add(
                format!("{key}.currency"),
                format!(
                    "{:?} is not supported; Cost Explorer reports costs in USD",
                    a.currency
                ),
            );
        }
        let start = parse_date(&a.start);
        if start.is_none() {
            p.add(
                format!("{key}.start"),
                format!("{:?} is not a date of the form YYYY-MM-DD", a.start),
            );
        }
        let expiry = parse_date(&a.expiry);
        if expiry.is_none() {
            p.add(
                format!("{key}.expiry"),
                format!("{:?} is not a date of the form YYYY-MM-DD", a.expiry),
            );
        }
        if let (Some(s), Some(e)) = (start, expiry) {
            if e < s {
                p.add(format!("{key}.expiry"), format!("{e} is before start {s}"));
            } else if (e - s).num_days() > MAX_AWARD_DAYS {
                p.add(
                    format!("{key}.expiry"),
                    format!("{e} is more than {MAX_AWARD_DAYS} days (ten years) after start {s}"),
                );
            }
            for (what, d) in [("start", s), ("expiry", e)] {
                if !(MIN_YEAR..=MAX_YEAR).contains(&d.year()) {
                    p.add(
                        format!("{key}.{what}"),
                        format!("{d} is outside the years {MIN_YEAR} to {MAX_YEAR}"),
                    );
                }
            }
        }
        let mut tranches = Vec::new();
        for (j, t) in a.tranches.iter().enumerate() {
            let tkey = format!("{key}.tranches[{j}]");
            if !(t.amount.is_finite() && t.amount > 0.0) {
                p.add(
                    format!("{tkey}.amount"),
                    format!("{} must be a positive amount", t.amount),
                );
            }
            match parse_date(&t.date) {
                None => p.add(
                    format!("{tkey}.date"),
                    format!("{:?} is not a date of the form YYYY-MM-DD", t.date),
                ),
                Some(d) => {
                    if let (Some(s), Some(e)) = (start, expiry) {
                        if d < s || d > e {
                            p.add(
                                format!("{tkey}.date"),
                                format!("{d} is outside the award's period, {s} to {e}"),
                            );
                        }
                    }
                    tranches.push((d, t.amount));
                }
            }
        }
        if a.tranches.is_empty() {
            tranches.push((start.unwrap_or_default(), a.amount.unwrap_or(0.0)));
        }
        tranches.sort_by_key(|(d, _)| *d);
        let granted: f64 = tranches.iter().map(|(_, v)| v).sum();
        let mut plan: Vec<(NaiveDate, f64)> = Vec::new();
        for (j, t) in a.plan.iter().enumerate() {
            let pkey = format!("{key}.plan[{j}]");
            let Some(d) = parse_date(&t.date) else {
                p.add(
                    format!("{pkey}.date"),
                    format!("{:?} is not a date of the form YYYY-MM-DD", t.date),
                );
                continue;
            };
            if let (Some(s), Some(e)) = (start, expiry) {
                if d < s || d > e {
                    p.add(
                        format!("{pkey}.date"),
                        format!("{d} is outside the award's period, {s} to {e}"),
                    );
                }
            }
            if !(t.amount.is_finite() && t.amount >= 0.0 && t.amount <= granted + 0.005) {
                p.add(
                    format!("{pkey}.amount"),
                    format!(
                        "{} must be what is planned to be consumed by {d}: from 0 to the award's {granted}",
                        t.amount
                    ),
                );
            }
            if expiry == Some(d) && (t.amount - granted).abs() >= 0.005 {
                p.add(
                    format!("{pkey}.amount"),
                    format!(
                        "{} on the expiry day: the plan ends at the whole award, {granted}; give that, or leave the expiry day out",
                        t.amount
                    ),
                );
            }
            if let Some((pd, pv)) = plan.last() {
                if d <= *pd || t.amount < *pv {
                    p.add(
                        pkey.clone(),
                        format!(
                            "comes after {pd} ({pv}): the plan's dates must rise and its amounts (consumed by each date) never fall"
                        ),
                    );
                }
            }
            plan.push((d, t.amount));
        }
        if a.workloads.is_empty() {
            p.add(
                format!("{key}.workloads"),
                format!("award {:?} funds no workload", a.id),
            );
        }
        for (j, w) in a.workloads.iter().enumerate() {
            if !raw_workloads.iter().any(|rw| &rw.name == w) {
                p.add(
                    format!("{key}.workloads[{j}]"),
                    format!("{w:?} is not a workload defined under [[workloads]]"),
                );
            }
        }
        let (services, named_services) = match &a.services {
            None => (ServiceSet::All, Vec::new()),
            Some(list) => parse_services(list, &format!("{key}.services"), p),
        };
        let snooze_until = a.snooze_until.as_deref().and_then(|d| {
            let parsed = parse_date(d);
            if parsed.is_none() {
                p.add(
                    format!("{key}.snooze_until"),
                    format!("{d:?} is not a date of the form YYYY-MM-DD"),
                );
            }
            parsed
        });
        let consumed_before = a.consumed_before.as_ref().and_then(|o| {
            let okey = format!("{key}.consumed_before");
            let Some(d) = parse_date(&o.date) else {
                p.add(
                    format!("{okey}.date"),
                    format!("{:?} is not a date of the form YYYY-MM-DD", o.date),
                );
                return None;
            };
            let mut ok = true;
            if let (Some(s), Some(e)) = (start, expiry) {
                if d <= s {
                    ok = false;
                    p.add(
                        format!("{okey}.date"),
                        format!(
                            "{d} is not after the award's start {s}: nothing was consumed before it; leave consumed_before out"
                        ),
                    );
                } else if e.succ_opt().is_some_and(|after| d > after) {
                    ok = false;
                    p.add(
                        format!("{okey}.date"),
                        format!("{d} is after the day after expiry {e}: the award pays nothing then"),
                    );
                }
            }
            if !(o.amount.is_finite() && o.amount >= 0.0) {
                ok = false;
                p.add(
                    format!("{okey}.amount"),
                    format!("{} must be what the award had paid before {d}, 0 or more", o.amount),
                );
            } else if ok {
                let granted_before = crate::config::granted_before(&tranches, d);
                if o.amount > granted_before + 0.005 {
                    ok = false;
                    p.add(
                        format!("{okey}.amount"),
                        format!(
                            "{} must be what the award had paid before {d}: from 0 to the {granted_before} granted by then",
                            o.amount
                        ),
                    );
                }
            }
            ok.then_some(crate::config::Opening {
                date: d,
                amount: o.amount,
            })
        });
        if let Some(id) = &a.credit_id {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                p.add(
                    format!("{key}.credit_id"),
                    format!(
                        "{id:?} is not a credit id (the numeric id `creditburn credits` lists)"
                    ),
                );
            } else if raw[..i]
                .iter()
                .any(|other| other.credit_id.as_ref() == Some(id))
            {
                p.add(
                    format!("{key}.credit_id"),
                    format!("{id:?} is already named by another award"),
                );
            }
        }
        if let Some(name) = &a.credit_name {
            if name.trim().is_empty() || name.trim() != name {
                p.add(
                    format!("{key}.credit_name"),
                    format!("{name:?} is empty or has white space around it; give the credit's name as the bill's Credit lines say it (the report lists them)"),
                );
            } else if raw[..i]
                .iter()
                .any(|other| other.credit_name.as_ref() == Some(name))
            {
                p.add(
                    format!("{key}.credit_name"),
                    format!("{name:?} is already named by another award"),
                );
            }
        }
        awards.push(Award {
            id: a.id.clone(),
            program,
            amount: granted,
            tranches,
            plan,
            currency: a.currency.clone(),
            start: start.unwrap_or_default(),
            expiry: expiry.unwrap_or_default(),
            workloads: a.workloads.clone(),
            services,
            named_services,
            marketplace_covered: a.marketplace_covered,
            credit_id: a.credit_id.clone(),
            credit_name: a.credit_name.clone(),
            snooze_until,
            consumed_before,
        });
    }
    check_stacks(raw, &awards, order, p);
    awards
}

pub(super) fn check_schedule(
    schedule_raw: Option<&RawSchedule>,
    daemon_raw: Option<&RawDaemon>,
    p: &mut Problems,
) -> (Option<ScheduleConfig>, Option<std::net::SocketAddr>) {
    let schedule = schedule_raw.as_ref().and_then(|s| {
        match crate::config::schedule::parse(&s.cron, s.timezone.as_deref()) {
            Ok(schedule) => Some(ScheduleConfig {
                schedule,
                jitter_seconds: s.jitter_seconds,
            }),
            Err(e) => {
                let key = if e.contains("IANA") {
                    "schedule.timezone"
                } else {
                    "schedule.cron"
                };
                p.add(key, e);
                None
            }
        }
    });
    let listen = daemon_raw
        .as_ref()
        .and_then(|d| d.listen.as_ref())
        .and_then(|l| {
            let parsed = l.parse::<std::net::SocketAddr>().ok();
            if parsed.is_none() {
                p.add(
                    "daemon.listen",
                    format!("{l:?} is not an address and port like \"127.0.0.1:9464\""),
                );
            }
            parsed
        });
    if schedule_raw
        .as_ref()
        .is_some_and(|s| s.jitter_seconds > 3600)
    {
        p.add("schedule.jitter_seconds", "is more than an hour");
    }
    (schedule, listen)
}

/// `[daemon]`'s bearer token for `/` and `/metrics`, and the status page's public URL.
pub(super) fn check_daemon(
    raw: Option<&RawDaemon>,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> (Option<SecretSource>, Option<String>) {
    let Some(raw) = raw else {
        return (None, None);
    };
    let token = super::channels::secret_source(
        "daemon",
        "token",
        &raw.token_env,
        &raw.token_file,
        resolve,
        p,
    );
    if let Some(url) = &raw.public_url {
        if let Some(why) = crate::config::url_problem(url) {
            p.add("daemon.public_url", why);
        }
    }
    (token, raw.public_url.clone())
}
pub(super) fn check_transport(
    raw: &RawEmail,
    resolve: &dyn Fn(&str) -> PathBuf,
    p: &mut Problems,
) -> TransportConfig {
    let file = |p: &mut Problems| match &raw.outbox {
        Some(o) if !o.trim().is_empty() => TransportConfig::File { outbox: resolve(o) },
        _ => {
            p.add(
                "email.outbox",
                "is required with transport = \"file\": the folder for the .eml files",
            );
            TransportConfig::File {
                outbox: PathBuf::new(),
            }
        }
    };
    match raw.transport.as_str() {
        "file" => {
            if raw.smtp.is_some() {
                p.add(
                    "email.smtp",
                    "is only read when email.transport is \"smtp\"",
                );
            }
            file(p)
        }
        "smtp" => {
            if raw.outbox.is_some() {
                p.add(
                    "email.outbox",
                    "is only read when email.transport is \"file\"",
                );
            }
            let Some(smtp) = &raw.smtp else {
                p.add(
                    "email.smtp",
                    "is required with transport = \"smtp\": host, port, security, ...",
                );
                return TransportConfig::File {
                    outbox: PathBuf::new(),
                };
            };
            TransportConfig::Smtp(check_smtp(smtp, resolve, p))
        }
        other => {
            p.add(
                "email.transport",
                format!("{other:?} is not a transport; use \"smtp\" or \"file\""),
            );
            TransportConfig::File {
                outbox: PathBuf::new(),
            }
        }
    }
}

fn check_smtp(raw: &RawSmtp, resolve: &dyn Fn(&str) -> PathBuf, p: &mut Problems) -> SmtpConfig {
    let host = raw.host.trim();
    if host.is_empty() {
        p.add("email.smtp.host", "is empty");
    } else if host.starts_with('[') || host.ends_with(']') {
        p.add(
            "email.smtp.host",
            format!(
                "{:?} has brackets; give the address without them ({:?}): the port is its own key",
                raw.host,
                host.trim_start_matches('[').trim_end_matches(']')
            ),
        );
    } else if host != raw.host || host.contains(char::is_whitespace) || host.contains('/') {
        p.add(
            "email.smtp.host",
            format!(
                "{:?} is not a host name or address (white space, or a URL's slash)",
                raw.host
            ),
        );
    } else if host.matches(':').count() == 1 {
        p.add(
            "email.smtp.host",
            format!(
                "{:?} holds a port; give the host alone and the port as email.smtp.port",
                raw.host
            ),
        );
    }
    if raw.port == Some(0) {
        p.add(
            "email.smtp.port",
            "0 is no port a server listens on; give the server's port (587 for STARTTLS, 465 for TLS)",
        );
    }
    let security = match raw.security.as_str() {
        "starttls" => Security::StartTls,
        "tls" => Security::Tls,
        "plain" => {
            if !raw.allow_plaintext {
                p.add(
                    "email.smtp.security",
                    "\"plain\" sends mail unencrypted; it needs allow_plaintext = true, and a loopback host",
                );
            }
            if !is_loopback(&raw.host) {
                p.add(
                    "email.smtp.host",
                    format!("{:?} is not a loopback address; unencrypted SMTP is only allowed to 127.0.0.1, ::1 or localhost", raw.host),
                );
            }
            Security::Plain
        }
        other => {
            p.add(
                "email.smtp.security",
                format!("{other:?} is not one of starttls (the default), tls, plain"),
            );
            Security::StartTls
        }
    };
    if raw.allow_plaintext && security != Security::Plain {
        p.add(
            "email.smtp.allow_plaintext",
            "is only read with security = \"plain\"",
        );
    }
    if raw.password.is_some() {
        p.add(
            "email.smtp.password",
            "passwords never live in the config file; use password_env (an environment variable) or password_file",
        );
    }
    let password = super::channels::secret_source(
        "email.smtp",
        "password",
        &raw.password_env,
        &raw.password_file,
        resolve,
        p,
    );
    if raw.username.is_some() != password.is_some() && raw.password.is_none() {
        p.add(
            "email.smtp.username",
            "a username needs password_env or password_file, and a password needs a username",
        );
    }
    for (key, v) in [
        (
            "email.smtp.connect_timeout_seconds",
            raw.connect_timeout_seconds,
        ),
        (
            "email.smtp.command_timeout_seconds",
            raw.command_timeout_seconds,
        ),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 600.0) {
            p.add(
                key,
                format!("{v} is not a number of seconds between 0 and 600"),
            );
        }
    }
    let port = raw.port.unwrap_or(match security {
        Security::Tls => 465,
        _ => 587,
    });
    SmtpConfig {
        host: raw.host.clone(),
        port,
        security,
        ca_file: raw.ca_file.as_deref().map(resolve),
        username: raw.username.clone(),
        password,
        connect_timeout_seconds: raw.connect_timeout_seconds,
        command_timeout_seconds: raw.command_timeout_seconds,
    }
}

fn check_aws(raw: &RawSource, p: &mut Problems) -> AwsSource {
    let seconds = |key: &str, value: Option<f64>, default: f64, p: &mut Problems| {
        let v = value.unwrap_or(default);
        if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
            p.add(
                format!("source.{key}"),
                format!("{v} is not a number of seconds between 0 and 3600"),
            );
        }
        v
    };
    let d = AwsSource::default();
    let max_attempts = raw.max_attempts.unwrap_or(d.max_attempts);
    if !(1..=10).contains(&max_attempts) {
        p.add(
            "source.max_attempts",
            format!("{max_attempts} is outside 1..=10"),
        );
    }
    let min_refresh_hours = raw.min_refresh_hours.unwrap_or(d.min_refresh_hours);
    if !(min_refresh_hours.is_finite() && (0.0..=168.0).contains(&min_refresh_hours)) {
        p.add(
            "source.min_refresh_hours",
            format!("{min_refresh_hours} is outside 0..=168"),
        );
    }
    let recent_days = raw.recent_days.unwrap_or(d.recent_days);
    if !(0..=31).contains(&recent_days) {
        p.add(
            "source.recent_days",
            format!("{recent_days} is outside 0..=31"),
        );
    }
    if let Some(a) = &raw.account_id {
        if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
            p.add(
                "source.account_id",
                format!("{a:?} is not a 12-digit AWS account id"),
            );
        }
    }
    for (key, value) in [("profile", &raw.profile), ("region", &raw.region)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            p.add(
                format!("source.{key}"),
                "is empty; leave it out to use the default chain",
            );
        }
    }
    AwsSource {
        profile: raw.profile.clone(),
        region: raw.region.clone(),
        max_attempts,
        connect_timeout_seconds: seconds(
            "connect_timeout_seconds",
            raw.connect_timeout_seconds,
            d.connect_timeout_seconds,
            p,
        ),
        attempt_timeout_seconds: seconds(
            "attempt_timeout_seconds",
            raw.attempt_timeout_seconds,
            d.attempt_timeout_seconds,
            p,
        ),
        operation_timeout_seconds: seconds(
            "operation_timeout_seconds",
            raw.operation_timeout_seconds,
            d.operation_timeout_seconds,
            p,
        ),
        min_refresh_hours,
        recent_days,
        max_requests: raw.max_requests,
        account_id: raw.account_id.clone(),
    }
}

/// Two workloads whose rules could match the same line need distinct `priority` values,
/// or "first matching rule wins" would depend on file order by accident. Workloads that
/// clash with one another are named as one problem (a thousand workloads sharing a
/// priority are one line, not half a million).
fn check_overlaps(workloads: &[Workload], p: &mut Problems) {
    let n = workloads.len();
    // Clashing workloads joined into groups; per group, its first clash (i, j, their
    // rules) and how many clashing pairs it holds.
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut example: Vec<Option<(usize, usize, usize, usize)>> = vec![None; n];
    let mut pairs = vec![0usize; n];
    for (i, a) in workloads.iter().enumerate() {
        for (j, b) in workloads.iter().enumerate().skip(i + 1) {
            if !a.services.intersects(&b.services) {
                continue;
            }
            let stated = matches!((a.priority, b.priority), (Some(x), Some(y)) if x != y);
            if stated {
                continue;
            }
            let clash = a.rules.iter().enumerate().find_map(|(ri, ra)| {
                b.rules
                    .iter()
                    .position(|rb| ra.may_overlap(rb))
                    .map(|rj| (ri, rj))
            });
            let Some((ri, rj)) = clash else { continue };
            let (x, y) = (root(&mut parent, i), root(&mut parent, j));
            let (keep, gone) = (x.min(y), x.max(y));
            if keep != gone {
                parent[gone] = keep;
                pairs[keep] += pairs[gone];
                example[keep] = example[keep].or(example[gone]);
            }
            pairs[keep] += 1;
            example[keep].get_or_insert((i, j, ri, rj));
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        if example[r].is_some() {
            groups.entry(r).or_default().push(i);
        }
    }
    for (r, members) in groups {
        let Some((i, j, ri, rj)) = example[r] else {
            continue;
        };
        let (a, b) = (&workloads[i], &workloads[j]);
        let pair = format!(
            "{:?} ({}) can match the same spend as workloads[{i}].rules[{ri}] {:?} ({})",
            b.name,
            b.rules[rj].describe(),
            a.name,
            a.rules[ri].describe()
        );
        if members.len() == 2 && pairs[r] == 1 {
            p.add(
                format!("workloads[{j}].rules[{rj}]"),
                format!("{pair}; give the two workloads different `priority` values to state which wins"),
            );
        } else {
            let names: Vec<&str> = members
                .iter()
                .map(|&m| workloads[m].name.as_str())
                .collect();
            p.add(
                format!("workloads[{}].priority", members[0]),
                format!(
                    "{} workloads can match the same spend without priorities that tell them apart: {} (for example {pair}); give each a different `priority` to state which wins",
                    crate::model::text::thousands(members.len() as u64),
                    crate::model::text::listed(&names, 3)
                ),
            );
        }
    }
}

/// Awards that fund the same workload over overlapping periods are drawn in order
/// (`analysis.drawdown_order`), so a dollar counts against one of them only. What stays
/// ambiguous is two such awards that AWS's order cannot tell apart (the same expiry, the
/// same number of services, the same start): which pays first would be a guess.
fn check_stacks(raw: &[RawAward], awards: &[Award], order: DrawdownOrder, p: &mut Problems) {
    if order == DrawdownOrder::Listed {
        return;
    }
    let dated =
        |i: usize| parse_date(&raw[i].start).is_some() && parse_date(&raw[i].expiry).is_some();
    let mut by_workload: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in awards.iter().enumerate() {
        for w in &a.workloads {
            by_workload.entry(w.as_str()).or_default().push(i);
        }
    }
    // Per workload, the awards AWS's order cannot tell apart, as one problem a class.
    let mut named = HashSet::new();
    for (w, list) in by_workload {
        let mut classes: BTreeMap<(NaiveDate, NaiveDate, Option<usize>), Vec<usize>> =
            BTreeMap::new();
        for &i in list.iter().filter(|&&i| dated(i)) {
            let a = &awards[i];
            classes
                .entry((a.start, a.expiry, a.services.breadth()))
                .or_default()
                .push(i);
        }
        for class in classes.into_values().filter(|c| c.len() > 1) {
            if !named.insert(class.clone()) {
                continue;
            }
            let (first, second) = (class[0], class[1]);
            let message = if class.len() == 2 {
                format!(
                    "{w:?} is also funded by award {:?} with the same start, expiry and number of services, so AWS's order cannot say which pays first; set analysis.drawdown_order = \"listed\" and list the awards in the order they are drawn",
                    awards[first].id
                )
            } else {
                let ids: Vec<&str> = class.iter().map(|&i| awards[i].id.as_str()).collect();
                format!(
                    "{w:?} is funded by {} awards with the same start, expiry and number of services ({}), so AWS's order cannot say which pays first; set analysis.drawdown_order = \"listed\" and list the awards in the order they are drawn",
                    crate::model::text::thousands(class.len() as u64),
                    crate::model::text::listed(&ids, 3)
                )
            };
            p.add(
                format!("{}.workloads", award_key(second, Some(&raw[second].id))),
                message,
            );
        }
    }
}
