//! Deciding alerts: which awards need finance's attention, and why. Pure.
//!
//! An award alerts when its status is a risk (exhaustion before expiry means out-of-pocket
//! spend; money left at expiry is forfeited), when it is exhausted, or when its consumed
//! percentage has passed a configured threshold. Each alert has a key (award, rule,
//! severity) so that later work can remember what was sent.

use serde::Serialize;

use crate::analyse::analysis::{AwardStatus, Confidence};
use crate::analyse::burn::OutOfPocket;
use crate::analyse::project::Status;
use crate::config::AlertConfig;
use crate::model::money::money;

pub use crate::model::severity::Severity;

/// Why an award alerts: with the award, the key an alert is remembered by. Serialised
/// (report, alert state) and shown as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    ExhaustionRisk,
    ForfeitRisk,
    Exhausted,
    CreditDrift,
    /// AWS's order (the account view) draws the award for spend it was not granted for,
    /// so its balance runs out before its own workloads' figures say: the invoice
    /// follows AWS.
    CreditDrawnByOthers,
    Consumed,
    /// The account starts paying for eligible spend within the projection (an account
    /// alert, under `ACCOUNT`).
    OutOfPocket,
    /// A program's date to apply by is near or past (an account alert, under `ACCOUNT`).
    ApplyBy,
    /// A workload's day of spend beyond its noise, by an amount worth reading.
    Spike,
}

impl Rule {
    /// Whether the alert is about the account (or its plan) rather than one award.
    pub fn is_account(self) -> bool {
        matches!(self, Rule::OutOfPocket | Rule::ApplyBy)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ExhaustionRisk => "exhaustion_risk",
            Rule::ForfeitRisk => "forfeit_risk",
            Rule::Exhausted => "exhausted",
            Rule::CreditDrift => "credit_drift",
            Rule::CreditDrawnByOthers => "credit_drawn_by_others",
            Rule::Consumed => "consumed",
            Rule::OutOfPocket => "out_of_pocket",
            Rule::ApplyBy => "apply_by",
            Rule::Spike => "spike",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub award: String,
    pub rule: Rule,
    pub severity: Severity,
    /// For `consumed`, the highest threshold passed; 0 otherwise. A higher level is an
    /// escalation, like a higher severity.
    pub level: f64,
    /// One sentence with the risk and its date, used as the email subject.
    pub subject: String,
}

/// A `spike` alert for each funded workload with a spike (`burn::SpikeCheck`), on the
/// award funding it, naming the usage types that moved most, and saying so when they do
/// not explain most of the jump.
pub fn spikes(workloads: &[crate::analyse::analysis::WorkloadSpend]) -> Vec<Alert> {
    let mut out = Vec::new();
    for w in workloads {
        let (Some(s), Some(award)) = (&w.spike, &w.award) else {
            continue;
        };
        let movers: Vec<String> = s
            .movers
            .iter()
            .map(|m| format!("{} +{}", m.usage_type, money(m.change)))
            .collect();
        out.push(Alert {
            award: award.clone(),
            rule: Rule::Spike,
            severity: Severity::Warning,
            // The day: a later spike is news, the same one seen again is not.
            level: crate::analyse::table::epoch_days(s.date) as f64,
            subject: format!(
                "{} spent {} on {}, {} above the {} expected and beyond the {} its noise explains{}{}",
                w.name,
                money(s.spend),
                s.date,
                money(s.spend - s.expected),
                money(s.expected),
                money(s.threshold),
                if movers.is_empty() {
                    String::new()
                } else {
                    format!(": {}", movers.join(", "))
                },
                if s.movers_explain() {
                    String::new()
                } else {
                    format!(
                        " (the usage types that moved explain only {} of the {} jump)",
                        money(s.explained),
                        money(s.spend - s.expected)
                    )
                }
            ),
        });
    }
    out
}

/// The award alerts that AWS's order decides: `credit_drawn_by_others` for each award
/// AWS draws for spend it was not granted for (see `drawn_by_others`), with the day the
/// account starts paying out of pocket as `out_of_pocket` has it.
pub fn drawn_by_others_all(
    awards: &[AwardStatus],
    out_of_pocket: &OutOfPocket,
    config: &AlertConfig,
) -> Vec<Alert> {
    awards
        .iter()
        .filter(|a| !matches!(a.status, Status::NotStarted | Status::Expired))
        .filter_map(|a| drawn_by_others(a, out_of_pocket, config))
        .collect()
}

/// The `credit_drawn_by_others` alert: AWS's balance of the award (the account view, in
/// AWS's order) is below what its own workloads leave of it by more than the drift
/// tolerance, or runs out before the workload view does. Names the workloads that drew
/// it, in dollars, and when the account, whose other credits pay the award's workloads
/// once AWS's balance is gone, starts paying out of pocket. Critical once AWS's balance
/// is gone while the workload view still shows money left.
fn drawn_by_others(a: &AwardStatus, oop: &OutOfPocket, config: &AlertConfig) -> Option<Alert> {
    let name = format!("{} award {}", a.program.label(), a.id);
    let view = &a.account_view;
    let drawn: f64 = view.drawn_by_others.iter().map(|d| d.amount).sum();
    let gap = a.remaining - view.remaining;
    let material = gap > a.amount * config.drift_tolerance_percent / 100.0 && gap >= 0.005;
    let earlier = match (view.exhaustion_date, a.projected_exhaustion_date) {
        (Some(aws), Some(own)) => aws < own,
        (Some(_), None) => a.remaining >= 0.005,
        _ => false,
    };
    if drawn < 0.005 || !(material || earlier) {
        return None;
    }
    let who: Vec<String> = view
        .drawn_by_others
        .iter()
        .take(3)
        .map(|d| {
            let label = if d.workload == "unattributed" {
                "spend no workload takes"
            } else {
                d.workload.as_str()
            };
            format!("{label} {}", money(d.amount))
        })
        .collect();
    let more = view.drawn_by_others.len().saturating_sub(3);
    let who = if more > 0 {
        format!("{} and {more} more", who.join(", "))
    } else {
        who.join(", ")
    };
    let gone = view.remaining < 0.005;
    let then = format!(
        "the account's other credits pay its workloads, and the account pays out of pocket {}",
        out_of_pocket_from(&oop.begins)
    );
    let subject = if gone {
        format!(
            "{name}: AWS's balance is already $0.00, drawn by other spend ({} so far: {who}), though its workloads' own figures leave {}; {then}",
            money(drawn),
            money(a.remaining)
        )
    } else {
        format!(
            "{name}: AWS also draws it for other spend ({} so far: {who}); as AWS draws it, its balance of {} {}, where its workloads' own figures {}; then {then}",
            money(drawn),
            money(view.remaining),
            match view.exhaustion_date {
                Some(d) => format!("runs out on {d}"),
                None => format!("lasts to {}", a.expiry_date),
            },
            match a.projected_exhaustion_date {
                Some(d) => format!("run out on {d}"),
                None => format!("last to {}", a.expiry_date),
            }
        )
    };
    Some(Alert {
        award: a.id.clone(),
        rule: Rule::CreditDrawnByOthers,
        level: 0.0,
        severity: if gone && a.remaining >= 0.005 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject,
    })
}

/// "from 2027-11-15 (P10 2027-08-06, P90 2027-11-15)": when the account starts paying,
/// as a phrase.
pub fn out_of_pocket_from(
    q: &crate::analyse::burn::Quantiles<Option<chrono::NaiveDate>>,
) -> String {
    match (q.p10, q.p50, q.p90) {
        (p10, Some(p50), p90) => format!(
            "from {p50} (P10 {}, P90 {})",
            p10.map_or("-".to_string(), |d| d.to_string()),
            p90.map_or("later".to_string(), |d| d.to_string())
        ),
        (Some(p10), None, _) => {
            format!("from {p10} at the earliest (P10), most likely not within the projection")
        }
        (None, None, _) => "not within the projection".to_string(),
    }
}

/// The key the account's own alerts (`out_of_pocket`, `apply_by`) are remembered
/// under, in place of an award's id; no award may take it.
pub const ACCOUNT: &str = crate::config::ACCOUNT_KEY;

/// The `out_of_pocket` alert: the day the account starts paying for eligible spend, as
/// AWS draws the credits, when the projection reaches it (its P10 at least). Critical
/// when the P50 is within 30 days of `as_of`, a warning when the P50 is within the
/// projection, information when only the P10 is.
pub fn out_of_pocket(oop: &OutOfPocket, as_of: chrono::NaiveDate) -> Option<Alert> {
    oop.begins.p10?;
    let severity = match oop.begins.p50 {
        Some(p50) if (p50 - as_of).num_days() <= 30 => Severity::Critical,
        Some(_) => Severity::Warning,
        None => Severity::Info,
    };
    let so_far = if oop.to_date >= 0.005 {
        format!(" ({} paid so far)", money(oop.to_date))
    } else {
        String::new()
    };
    let next_90 = if oop.next_90_days.p90 >= 0.005 {
        format!(
            "; {} in the next 90 days (P90 {})",
            money(oop.next_90_days.p50),
            money(oop.next_90_days.p90)
        )
    } else {
        String::new()
    };
    Some(Alert {
        award: ACCOUNT.to_string(),
        rule: Rule::OutOfPocket,
        level: 0.0,
        severity,
        subject: format!(
            "The account starts paying out of pocket {}{so_far}{next_90}",
            out_of_pocket_from(&oop.begins)
        ),
    })
}

/// ", though the range reaches on track": what an uncertain verdict's subject says.
fn uncertain_clause(a: &AwardStatus) -> String {
    a.range_reaches_words()
        .map(|r| format!(", though the range reaches {r}"))
        .unwrap_or_default()
}

/// The alerts for every award, most severe first within an award.
pub fn decide(awards: &[AwardStatus], config: &AlertConfig) -> Vec<Alert> {
    let mut out = Vec::new();
    for a in awards {
        let name = format!("{} award {}", a.program.label(), a.id);
        match a.status {
            Status::ExhaustionRisk => {
                if let Some(date) = a.projected_exhaustion_date {
                    let early = (a.expiry_date - date).num_days();
                    out.push(Alert {
                        award: a.id.clone(),
                        rule: Rule::ExhaustionRisk,
                        level: 0.0,
                        // An uncertain verdict is a warning at most.
                        severity: if early > 30 && a.confidence == Confidence::Firm {
                            Severity::Critical
                        } else {
                            Severity::Warning
                        },
                        subject: format!(
                            "{name} runs out on {date}, {early} days before it expires{}",
                            uncertain_clause(a)
                        ),
                    });
                }
            }
            // What is forfeited is AWS's balance at expiry: when AWS's order leaves a
            // different figure, the alert gives that one (and none when AWS will have
            // spent it all: `credit_drawn_by_others` says where it went).
            Status::ForfeitRisk => {
                let subject = match a.forfeit_as_aws_draws(config.drift_tolerance_percent) {
                    Some(aws) if aws < 0.005 => None,
                    Some(aws) => Some(format!(
                        "{name} will leave {} unused when it expires on {}, as AWS draws it (its workloads' own figures leave {})",
                        money(aws),
                        a.expiry_date,
                        money(a.projected_unused_at_expiry),
                    )),
                    None => Some(format!(
                        "{name} will leave {} unused when it expires on {}{}",
                        money(a.projected_unused_at_expiry),
                        a.expiry_date,
                        uncertain_clause(a)
                    )),
                };
                out.extend(subject.map(|subject| Alert {
                    award: a.id.clone(),
                    rule: Rule::ForfeitRisk,
                    level: 0.0,
                    severity: Severity::Warning,
                    subject,
                }));
            }
            // Used up with nothing paid out of pocket: a stacked award behind it took
            // over, which is news but not an emergency.
            Status::Exhausted => out.push(Alert {
                award: a.id.clone(),
                rule: Rule::Exhausted,
                level: 0.0,
                severity: if a.out_of_pocket >= 0.005 {
                    Severity::Critical
                } else {
                    Severity::Info
                },
                subject: match (a.projected_exhaustion_date, a.out_of_pocket >= 0.005) {
                    (Some(d), true) => format!(
                        "{name} ran out on {d}; {} since is paid out of pocket",
                        money(a.out_of_pocket)
                    ),
                    (Some(d), false) => format!(
                        "{name} ran out on {d}; the awards stacked behind it pay its workloads since"
                    ),
                    (None, _) => format!("{name} is used up"),
                },
            }),
            // No forfeit or exhaustion alert on figures that look like a configuration
            // mistake: the report, the digest and check-config carry the warning.
            Status::OnTrack | Status::NotStarted | Status::Expired | Status::NoData => {}
        }
        if matches!(a.status, Status::NotStarted | Status::Expired) {
            continue;
        }
        if let Some(c) = &a.credit {
            if !c.found || c.drift_percent.abs() > config.drift_tolerance_percent {
                out.push(Alert {
                    award: a.id.clone(),
                    rule: Rule::CreditDrift,
                    level: 0.0,
                    severity: Severity::Warning,
                    subject: format!("{name}: {}", crate::analyse::credits::drift_sentence(c)),
                });
            }
        }
        let passed = config
            .thresholds
            .iter()
            .rev()
            .find(|t| a.consumed_percent >= **t);
        if let Some(t) = passed {
            out.push(Alert {
                award: a.id.clone(),
                rule: Rule::Consumed,
                severity: Severity::Info,
                level: *t,
                subject: format!(
                    "{name} has used {}% of {} ({} consumed)",
                    t,
                    money(a.amount),
                    money(a.consumed)
                ),
            });
        }
    }
    out
}

/// The `apply_by` alert: every proposed program whose date to apply by is within
/// `days_before` days of the plan's `as_of` (or past), soonest first, in one alert under
/// `ACCOUNT`. Its level is how many are due, so one more coming due is news. Critical
/// once a date has passed.
pub fn apply_by(plan: &crate::analyse::plan::Plan, days_before: i64) -> Option<Alert> {
    let due: Vec<&crate::analyse::plan::Recommendation> = plan
        .recommendations
        .iter()
        .filter(|r| (r.apply_by - plan.as_of).num_days() <= days_before)
        .collect();
    if due.is_empty() {
        return None;
    }
    let passed = due.iter().any(|r| r.apply_by < plan.as_of);
    let each: Vec<String> = due
        .iter()
        .map(|r| {
            format!(
                "{}{} for {} (P90 {}) by {}{}, {} at stake",
                r.program.label_long(),
                r.workload
                    .as_ref()
                    .map(|w| format!(" for {w}"))
                    .unwrap_or_default(),
                money(r.amount),
                money(r.amount_p90),
                r.apply_by,
                if r.apply_by < plan.as_of {
                    " (passed)"
                } else {
                    ""
                },
                money(r.at_stake)
            )
        })
        .collect();
    Some(Alert {
        award: ACCOUNT.to_string(),
        rule: Rule::ApplyBy,
        level: due.len() as f64,
        severity: if passed {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject: format!("Apply for {}", each.join("; ")),
    })
}
