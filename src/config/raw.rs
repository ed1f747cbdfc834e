//! The config file as written: serde structs mirroring the TOML, with the defaults of
//! the keys that may be left out. `check` turns them into the typed config.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) source: RawSource,
    pub(super) state: RawState,
    pub(super) email: RawEmail,
    pub(super) alerts: RawAlerts,
    #[serde(default)]
    pub(super) analysis: RawAnalysis,
    #[serde(default)]
    pub(super) hints: RawHints,
    #[serde(default)]
    pub(super) plan: RawPlan,
    #[serde(default)]
    pub(super) pricing: RawPricing,
    #[serde(default)]
    pub(super) workloads: Vec<RawWorkload>,
    #[serde(default)]
    pub(super) awards: Vec<RawAward>,
    pub(super) schedule: Option<RawSchedule>,
    pub(super) daemon: Option<RawDaemon>,
    #[serde(default)]
    pub(super) channels: Vec<super::channels::RawChannel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) listen: Option<String>,
    pub(super) token_env: Option<String>,
    pub(super) token_file: Option<String>,
    pub(super) public_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) cron: String,
    pub(super) timezone: Option<String>,
    #[serde(default)]
    pub(super) jitter_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) kind: String,
    pub(super) path: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) region: Option<String>,
    pub(super) max_attempts: Option<u32>,
    pub(super) connect_timeout_seconds: Option<f64>,
    pub(super) attempt_timeout_seconds: Option<f64>,
    pub(super) operation_timeout_seconds: Option<f64>,
    pub(super) min_refresh_hours: Option<f64>,
    pub(super) recent_days: Option<i64>,
    pub(super) max_requests: Option<u64>,
    pub(super) account_id: Option<String>,
    /// Athena: the CUR 2.0 table's database and name, the workgroup, where results go,
    /// and a cap on what a run may scan.
    pub(super) database: Option<String>,
    pub(super) table: Option<String>,
    pub(super) workgroup: Option<String>,
    pub(super) output_location: Option<String>,
    pub(super) max_scanned_gb: Option<f64>,
}

impl RawSource {
    /// The keys set that only `kind = "athena"` reads.
    pub(super) fn athena_keys(&self) -> Vec<&'static str> {
        [
            ("database", self.database.is_some()),
            ("table", self.table.is_some()),
            ("workgroup", self.workgroup.is_some()),
            ("output_location", self.output_location.is_some()),
            ("max_scanned_gb", self.max_scanned_gb.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| key)
        .collect()
    }

    /// The keys set that only `kind = "aws"` reads.
    pub(super) fn aws_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let set = [
            ("profile", self.profile.is_some()),
            ("region", self.region.is_some()),
            ("max_attempts", self.max_attempts.is_some()),
            (
                "connect_timeout_seconds",
                self.connect_timeout_seconds.is_some(),
            ),
            (
                "attempt_timeout_seconds",
                self.attempt_timeout_seconds.is_some(),
            ),
            (
                "operation_timeout_seconds",
                self.operation_timeout_seconds.is_some(),
            ),
            ("min_refresh_hours", self.min_refresh_hours.is_some()),
            ("recent_days", self.recent_days.is_some()),
            ("max_requests", self.max_requests.is_some()),
            ("account_id", self.account_id.is_some()),
        ];
        for (key, is_set) in set {
            if is_set {
                keys.push(key);
            }
        }
        keys
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub(super) from: String,
    #[serde(default = "default_transport")]
    pub(super) transport: String,
    pub(super) outbox: Option<String>,
    pub(super) smtp: Option<RawSmtp>,
    #[serde(default = "default_digest_days")]
    pub(super) digest_every_days: i64,
    #[serde(default = "default_retry_base")]
    pub(super) retry_base_minutes: f64,
    #[serde(default = "default_retry_max")]
    pub(super) retry_max_hours: f64,
    #[serde(default = "default_max_attempts")]
    pub(super) max_attempts: u32,
    #[serde(default = "default_prune_days")]
    pub(super) prune_after_days: i64,
}

pub(super) fn default_prune_days() -> i64 {
    90
}
pub(super) fn default_transport() -> String {
    "file".to_string()
}
pub(super) fn default_digest_days() -> i64 {
    7
}
pub(super) fn default_retry_base() -> f64 {
    5.0
}
pub(super) fn default_retry_max() -> f64 {
    6.0
}
pub(super) fn default_max_attempts() -> u32 {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    #[serde(default = "default_security")]
    pub(super) security: String,
    #[serde(default)]
    pub(super) allow_plaintext: bool,
    pub(super) ca_file: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<String>,
    /// Only here to refuse it with a useful message.
    pub(super) password: Option<toml::Value>,
    #[serde(default = "default_connect_timeout")]
    pub(super) connect_timeout_seconds: f64,
    #[serde(default = "default_command_timeout")]
    pub(super) command_timeout_seconds: f64,
}

pub(super) fn default_security() -> String {
    "starttls".to_string()
}
pub(super) fn default_connect_timeout() -> f64 {
    10.0
}
pub(super) fn default_command_timeout() -> f64 {
    30.0
}

/// Whether `host` is a loopback name or address.
pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub(super) recipients: Vec<String>,
    #[serde(default = "default_thresholds")]
    pub(super) thresholds: Vec<f64>,
    #[serde(default = "default_slack_days")]
    pub(super) slack_days: i64,
    #[serde(default = "default_drift_tolerance")]
    pub(super) drift_tolerance_percent: f64,
    #[serde(default = "default_repeat_hours")]
    pub(super) repeat_interval_hours: f64,
    #[serde(default = "default_spike_min_amount")]
    pub(super) spike_min_amount: f64,
    #[serde(default = "default_spike_min_share")]
    pub(super) spike_min_share: f64,
}

pub(super) fn default_spike_min_amount() -> f64 {
    super::SPIKE_MIN_AMOUNT
}

pub(super) fn default_spike_min_share() -> f64 {
    super::SPIKE_MIN_SHARE
}

pub(super) fn default_repeat_hours() -> f64 {
    24.0
}

pub(super) fn default_drift_tolerance() -> f64 {
    5.0
}

pub(super) fn default_thresholds() -> Vec<f64> {
    vec![50.0, 75.0, 90.0, 100.0]
}

pub(super) fn default_slack_days() -> i64 {
    7
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnalysis {
    #[serde(default = "default_burn_window")]
    pub(super) burn_window_days: i64,
    pub(super) drawdown_order: Option<String>,
}

impl Default for RawAnalysis {
    fn default() -> Self {
        RawAnalysis {
            burn_window_days: default_burn_window(),
            drawdown_order: None,
        }
    }
}

pub(super) fn default_burn_window() -> i64 {
    14
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHints {
    pub(super) cacheable_input_share: Option<f64>,
    pub(super) downsize_share: Option<f64>,
    #[serde(default = "default_min_saving")]
    pub(super) min_monthly_saving: f64,
    #[serde(default = "default_start_after_days")]
    pub(super) start_after_days: i64,
}

impl Default for RawHints {
    fn default() -> Self {
        RawHints {
            cacheable_input_share: None,
            downsize_share: None,
            min_monthly_saving: default_min_saving(),
            start_after_days: default_start_after_days(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlan {
    #[serde(default = "default_apply_alert_days")]
    pub(super) alert_days_before: i64,
    #[serde(default)]
    pub(super) lead_days: std::collections::BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) exclude: Vec<String>,
    #[serde(default = "default_true")]
    pub(super) assume_levers: bool,
}

impl Default for RawPlan {
    fn default() -> Self {
        RawPlan {
            alert_days_before: default_apply_alert_days(),
            lead_days: Default::default(),
            exclude: Vec::new(),
            assume_levers: true,
        }
    }
}

pub(super) fn default_apply_alert_days() -> i64 {
    14
}

pub(super) fn default_min_saving() -> f64 {
    10.0
}
pub(super) fn default_start_after_days() -> i64 {
    7
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPricing {
    pub(super) table: Option<String>,
    #[serde(default)]
    pub(super) overrides: Vec<crate::pricing::RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkload {
    pub(super) name: String,
    pub(super) priority: Option<i64>,
    #[serde(default = "default_true")]
    pub(super) interactive: bool,
    pub(super) services: Option<Vec<String>>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    pub(super) batchable_share: Option<f64>,
    pub(super) cacheable_share: Option<f64>,
    pub(super) routine_share: Option<f64>,
}

pub(super) fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) tag: Option<String>,
    pub(super) account: Option<String>,
    pub(super) usage_type: Option<String>,
    /// A glob over the caller's ARN (CUR 2.0's `line_item_iam_principal`).
    pub(super) iam_principal: Option<String>,
    /// A glob over the resource id (an application inference profile's ARN).
    pub(super) resource: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAward {
    pub(super) id: String,
    pub(super) program: String,
    pub(super) amount: Option<f64>,
    #[serde(default)]
    pub(super) tranches: Vec<RawTranche>,
    /// The plan line's points: what should be consumed by each date.
    #[serde(default)]
    pub(super) plan: Vec<RawTranche>,
    #[serde(default = "default_currency")]
    pub(super) currency: String,
    pub(super) start: String,
    pub(super) expiry: String,
    #[serde(default)]
    pub(super) workloads: Vec<String>,
    pub(super) services: Option<Vec<String>>,
    #[serde(default)]
    pub(super) marketplace_covered: bool,
    pub(super) credit_id: Option<String>,
    /// With a line-item source: the credit's name on the bill's Credit lines.
    pub(super) credit_name: Option<String>,
    pub(super) snooze_until: Option<String>,
    /// What the award had paid before a day the data does not reach back to.
    pub(super) consumed_before: Option<RawTranche>,
}

/// A dated amount: a tranche (granted that day), a plan point (consumed by that day), or
/// an opening (consumed before that day).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTranche {
    pub(super) date: String,
    pub(super) amount: f64,
}

pub(super) fn default_currency() -> String {
    "USD".to_string()
}
