//! The next award: from the day the account starts paying (as AWS draws the credits)
//! and the forecast beyond it, which programs the company could still use, for how much,
//! by when, and what is at stake if the date is missed. Pure: everything comes from the
//! burn model's own projection (`burn::Projector::unpaid_lines`), with the hints' levers
//! applied where they are priced, as an application should size its ask.
//!
//! Also the application's numbers (`projection`): per month, workload and model, the
//! projected tokens and spend from the same forecast and the bill's own token mix.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::analyse::analysis::WorkloadSpend;
use crate::analyse::burn::{Adjust, Projector, Quantiles};
use crate::config::{Config, Program, Scope};
use crate::model::money::{cents, money};

/// A lever the plan assumes applied: the hints' levers on a workload, together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeverAssumed {
    pub workload: String,
    /// The first day it saves.
    pub from: NaiveDate,
    /// About this much a month at the last 30 days' spend (the hints' middle case).
    #[serde(serialize_with = "cents")]
    pub monthly_saving: f64,
}

/// A program the company already holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Granted {
    pub program: Program,
    /// The award's id, or the Billing API's credit ("credit 1234: AWS Activate ...").
    pub by: String,
    /// The workloads it funds (empty for a credit no award names).
    pub workloads: Vec<String>,
}

/// One program to apply for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub program: Program,
    /// The workload it is for (a POC, Build for Startups); None: the account.
    pub workload: Option<String>,
    /// The ask: the P50 need within the program's band.
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    /// The same on the P90 spend path.
    #[serde(serialize_with = "cents")]
    pub amount_p90: f64,
    /// What the spend it would fund needs over the program's term, P50 and P90, before
    /// the band.
    #[serde(serialize_with = "cents")]
    pub need: f64,
    #[serde(serialize_with = "cents")]
    pub need_p90: f64,
    /// The last day to apply: the day its spend may start going unpaid (P10) less the
    /// program's lead time.
    pub apply_by: NaiveDate,
    pub lead_days: i64,
    /// The first day its spend goes unpaid (P50), from which the award is sized.
    pub covers_from: NaiveDate,
    /// The last day the ask covers at P50: the term's end, or the day the band's ceiling
    /// is spent.
    pub covers_until: NaiveDate,
    /// Paid out of pocket if the date is missed: the P50 spend of its scope over the
    /// lead time from `covers_from` (applying only once the paying has started).
    #[serde(serialize_with = "cents")]
    pub at_stake: f64,
    pub reasons: Vec<String>,
}

/// A program the plan does not propose, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotProposed {
    pub program: Program,
    pub workload: Option<String>,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub as_of: NaiveDate,
    /// The last day the projection reaches.
    pub projected_until: NaiveDate,
    /// When the account starts paying, with the levers assumed (P10 the earliest).
    pub out_of_pocket_begins: Quantiles<Option<NaiveDate>>,
    /// When it starts paying as things stand, no lever applied: the date the report and
    /// the `out_of_pocket` alert give.
    pub out_of_pocket_as_is: Quantiles<Option<NaiveDate>>,
    pub levers: Vec<LeverAssumed>,
    pub granted: Vec<Granted>,
    /// Soonest apply-by first.
    pub recommendations: Vec<Recommendation>,
    pub not_proposed: Vec<NotProposed>,
}

/// What the plan reads.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub projector: &'a Projector,
    pub workloads: &'a [WorkloadSpend],
    /// The Billing API's credits, when read.
    pub credits: &'a [crate::model::credits::Credit],
    pub as_of: NaiveDate,
    /// Whether the hints' levers are assumed applied (`[plan] assume_levers`).
    pub levers: bool,
}

/// The levers assumed, as the burn model takes them, and in words.
pub fn levers(inputs: &Inputs) -> (Vec<Adjust>, Vec<LeverAssumed>) {
    if !inputs.levers {
        return (Vec::new(), Vec::new());
    }
    let Some(from) =
        crate::analyse::hints::start_date(inputs.config, Some(inputs.projector), inputs.as_of)
    else {
        return (Vec::new(), Vec::new());
    };
    let mut adjusts = Vec::new();
    let mut assumed = Vec::new();
    for w in inputs.workloads {
        let cuts = crate::analyse::hints::all_cuts(inputs.config, w);
        let saving: f64 = cuts.iter().map(|c| c.cost * c.rate[1]).sum();
        if cuts.is_empty() || saving < 0.005 {
            continue;
        }
        adjusts.push(crate::analyse::hints::adjust_of(w, &cuts, from));
        assumed.push(LeverAssumed {
            workload: w.name.clone(),
            from,
            monthly_saving: saving,
        });
    }
    (adjusts, assumed)
}

/// The program a Billing API credit's description names, if any.
pub fn program_of_description(description: &str) -> Option<Program> {
    // Whole words, so that "Epoch" is not a POC and "Portfolios" still is Portfolio.
    let d = description.to_ascii_lowercase();
    let words: Vec<&str> = d
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |phrase: &str| {
        let p: Vec<&str> = phrase.split(' ').collect();
        words.windows(p.len()).any(|w| {
            w.iter()
                .zip(&p)
                .all(|(w, p)| *w == *p || w.strip_suffix('s') == Some(*p))
        })
    };
    if has("accelerator") {
        Some(Program::GenaiAccelerator)
    } else if has("founders") || has("founder") {
        Some(Program::ActivateFounders)
    } else if has("portfolio") {
        Some(Program::ActivatePortfolio)
    } else if has("build for startups") {
        Some(Program::BuildForStartups)
    } else if has("proof of concept") || has("poc") {
        Some(Program::BedrockPoc)
    } else {
        None
    }
}

/// The programs already held: every award in the config (expired ones too), and the
/// Billing API's credits no award names, by their description.
pub fn granted(config: &Config, credits: &[crate::model::credits::Credit]) -> Vec<Granted> {
    let mut out: Vec<Granted> = config
        .awards
        .iter()
        .filter(|a| a.program != Program::Other)
        .map(|a| Granted {
            program: a.program,
            by: a.id.clone(),
            workloads: a.workloads.clone(),
        })
        .collect();
    for c in credits {
        if config
            .awards
            .iter()
            .any(|a| a.credit_id.as_deref() == Some(c.credit_id.as_str()))
        {
            continue;
        }
        if let Some(program) = program_of_description(&c.description) {
            out.push(Granted {
                program,
                by: format!("credit {}: {}", c.credit_id, c.description),
                workloads: Vec::new(),
            });
        }
    }
    out
}

/// The spend a candidate would fund: per spend path, its unpaid dollars by day.
#[derive(Clone, Default)]
struct Need {
    daily: [BTreeMap<NaiveDate, f64>; 3],
}

impl Need {
    /// The needs of `n` groups at once, in one pass over the lines: kind `k` counts
    /// towards group `group[k]` (none when None or out of range).
    fn grouped(
        unpaid: &[Vec<(NaiveDate, usize, f64)>; 3],
        group: &[Option<usize>],
        n: usize,
    ) -> Vec<Need> {
        let mut out = vec![Need::default(); n];
        for (q, lines) in unpaid.iter().enumerate() {
            for &(d, k, v) in lines {
                if let Some(&Some(g)) = group.get(k) {
                    *out[g].daily[q].entry(d).or_default() += v;
                }
            }
        }
        out
    }

    /// The first day it goes unpaid on path `q`.
    fn first(&self, q: usize) -> Option<NaiveDate> {
        self.daily[q]
            .iter()
            .find(|(_, v)| **v >= 0.005)
            .map(|(d, _)| *d)
    }

    /// Its unpaid dollars on path `q` from `from` to `to`, both included.
    fn between(&self, q: usize, from: NaiveDate, to: NaiveDate) -> f64 {
        if to < from {
            return 0.0;
        }
        self.daily[q].range(from..=to).map(|(_, v)| v).sum()
    }

    /// The first day from `from` on which the unpaid dollars on path `q` reach `amount`.
    fn reaches(&self, q: usize, from: NaiveDate, amount: f64) -> Option<NaiveDate> {
        let mut sum = 0.0;
        for (d, v) in self.daily[q].range(from..) {
            sum += v;
            if sum >= amount - 0.005 {
                return Some(*d);
            }
        }
        None
    }
}

fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(chrono::Duration::days(n)).unwrap_or(d)
}

/// The plan: for each program the company could still use, the ask, the date to apply
/// by and what is at stake.
pub fn plan(inputs: &Inputs) -> Plan {
    let p = inputs.projector;
    let (adjusts, assumed) = levers(inputs);
    let unpaid = p.unpaid_lines(&adjusts);
    let kinds = p.kinds();
    let until = p.until();
    let granted = granted(inputs.config, inputs.credits);
    // Every kind but Marketplace's, in group 0: the account's need.
    let account: Vec<Option<usize>> = kinds
        .iter()
        .map(|k| (!k.marketplace).then_some(0))
        .collect();
    let account_of = |u| Need::grouped(u, &account, 1).swap_remove(0);
    let account_need = account_of(&unpaid);
    let begins = |need: &Need| Quantiles {
        p10: need.first(2),
        p50: need.first(1),
        p90: need.first(0),
    };
    let out_of_pocket_begins = begins(&account_need);
    // The levers are advice, not yet done: the ask is sized with them, but the date to
    // apply by and what is at stake come from the spend as it stands.
    let unpaid_as_is = (!adjusts.is_empty()).then(|| p.unpaid_lines(&[]));
    let unpaid_as_is = unpaid_as_is.as_ref().unwrap_or(&unpaid);
    let account_as_is = account_of(unpaid_as_is);
    let out_of_pocket_as_is = begins(&account_as_is);
    // Per kind, the workload (its index in the config) whose candidate it counts
    // towards, for all its spend and for its Bedrock spend; the needs of every workload
    // are then made in one pass over the lines, when a program first asks for them.
    let n_workloads = inputs.config.workloads.len();
    let workload_of: Vec<Option<usize>> = kinds
        .iter()
        .map(|k| {
            let w = k.workload.as_deref().filter(|_| !k.marketplace)?;
            inputs.config.workloads.iter().position(|c| c.name == w)
        })
        .collect();
    let bedrock_of: Vec<Option<usize>> = workload_of
        .iter()
        .zip(kinds)
        .map(|(w, k)| w.filter(|_| crate::model::usage_type::is_bedrock_service(&k.service)))
        .collect();
    let by_workload: std::cell::OnceCell<[Vec<Need>; 2]> = Default::default();
    let by_workload_bedrock: std::cell::OnceCell<[Vec<Need>; 2]> = Default::default();
    let lever_words = if assumed.is_empty() {
        if inputs.levers {
            "no lever is priced on the bill, so none is assumed".to_string()
        } else {
            "no lever assumed ([plan] assume_levers = false)".to_string()
        }
    } else {
        format!(
            "with the hints' levers assumed applied from {}: {}",
            assumed[0].from,
            assumed
                .iter()
                .map(|l| format!("{} about {} a month", l.workload, money(l.monthly_saving)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut recommendations = Vec::new();
    let mut not_proposed = Vec::new();
    for program in Program::PROPOSABLE {
        let Some(terms) = program.terms() else {
            continue;
        };
        if inputs.config.plan.exclude.contains(&program) {
            not_proposed.push(NotProposed {
                program,
                workload: None,
                why: "excluded by [plan] exclude".into(),
            });
            continue;
        }
        let held: Vec<&Granted> = granted.iter().filter(|g| g.program == program).collect();
        if terms.once && !held.is_empty() {
            not_proposed.push(NotProposed {
                program,
                workload: None,
                why: format!(
                    "already granted ({}); it is granted once",
                    held.iter()
                        .map(|g| g.by.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            continue;
        }
        // (workload, what it takes with the levers, and as it stands): the candidates
        // the program could fund.
        let candidates: Vec<(Option<String>, Need, Need)> = match terms.scope {
            Scope::Account => vec![(None, account_need.clone(), account_as_is.clone())],
            Scope::WorkloadBedrock | Scope::Workload => {
                let (group, needs) = if terms.scope == Scope::WorkloadBedrock {
                    (&bedrock_of, &by_workload_bedrock)
                } else {
                    (&workload_of, &by_workload)
                };
                let [needs, as_is] = needs.get_or_init(|| {
                    [&unpaid, unpaid_as_is].map(|u| Need::grouped(u, group, n_workloads))
                });
                let mut c = Vec::new();
                for (i, w) in inputs.config.workloads.iter().enumerate() {
                    let name = w.name.clone();
                    if !group.contains(&Some(i)) {
                        continue;
                    }
                    if let Some(g) = held.iter().find(|g| g.workloads.contains(&name)) {
                        not_proposed.push(NotProposed {
                            program,
                            workload: Some(name.clone()),
                            why: format!("already granted for it ({})", g.by),
                        });
                        continue;
                    }
                    c.push((Some(name.clone()), needs[i].clone(), as_is[i].clone()));
                }
                if terms.once {
                    // Once per company: for the workload that needs it most.
                    c.sort_by(|a, b| {
                        let total = |n: &Need| n.daily[1].values().sum::<f64>();
                        total(&b.1).total_cmp(&total(&a.1))
                    });
                    c.truncate(1);
                }
                c
            }
        };
        for (workload, need, as_is) in candidates {
            match recommend(
                program,
                &terms,
                workload.clone(),
                [&need, &as_is],
                inputs,
                until,
            ) {
                Ok(mut r) => {
                    r.reasons.push(lever_words.clone());
                    recommendations.push(r);
                }
                Err(why) => not_proposed.push(NotProposed {
                    program,
                    workload,
                    why,
                }),
            }
        }
    }
    recommendations.sort_by_key(|r| (r.apply_by, r.program.name()));
    Plan {
        as_of: inputs.as_of,
        projected_until: until,
        out_of_pocket_begins,
        out_of_pocket_as_is,
        levers: assumed,
        granted,
        recommendations,
        not_proposed,
    }
}

/// One candidate sized, or why it is not proposed.
fn recommend(
    program: Program,
    terms: &crate::config::Terms,
    workload: Option<String>,
    [need, as_is]: [&Need; 2],
    inputs: &Inputs,
    until: NaiveDate,
) -> Result<Recommendation, String> {
    let scope = match (&workload, terms.scope) {
        (Some(w), Scope::WorkloadBedrock) => format!("{w}'s Bedrock spend"),
        (Some(w), _) => format!("{w}'s spend"),
        (None, _) => "the account's eligible spend".to_string(),
    };
    let Some(earliest) = need.first(2) else {
        return Err(format!(
            "the credits pay {scope} through {until}, the end of the projection, even on the P90 forecast"
        ));
    };
    let term_end = |from: NaiveDate| days(from, terms.term_days - 1).min(until);
    let need_p90 = need.between(2, earliest, term_end(earliest));
    let Some(from) = need.first(1) else {
        return Err(format!(
            "only on the P90 forecast does {scope} go unpaid (from {earliest}, {} over the program's {} days); at P50 the credits pay it through {until}",
            money(need_p90),
            terms.term_days
        ));
    };
    let lead = inputs.config.plan.lead_days(program);
    let need_p50 = need.between(1, from, term_end(from));
    let band = |v: f64| v.clamp(terms.min, terms.max);
    let amount = band(need_p50);
    let mut reasons = vec![format!(
        "{scope} starts going unpaid {from} (P10 {earliest}); over the program's usual {} days from then the forecast puts it at {} (P90 {})",
        terms.term_days,
        money(need_p50),
        money(need_p90)
    )];
    if days(from, terms.term_days - 1) > until {
        reasons.push(format!(
            "the projection ends {until}, before the term does: the need counts the days up to it only"
        ));
    }
    let mut covers_until = term_end(from);
    if need_p50 > terms.max {
        covers_until = need.reaches(1, from, terms.max).unwrap_or(covers_until);
        reasons.push(format!(
            "the need is above the program's ceiling of {}: the ask is the ceiling, which covers up to {covers_until}",
            money(terms.max)
        ));
    } else if need_p50 < terms.min {
        reasons.push(format!(
            "the need is under the program's floor of {}: an award of the floor would leave about {} unused",
            money(terms.min),
            money(terms.min - need_p50)
        ));
    }
    // The date and the stake as the spend stands: no lever is applied yet, and without
    // them the paying starts sooner.
    let date_from = as_is.first(2).map_or(earliest, |d| d.min(earliest));
    let stake_from = as_is.first(1).map_or(from, |d| d.min(from));
    if date_from < earliest {
        reasons.push(format!(
            "the date to apply by is counted from {date_from}, the P10 date as the spend stands: the levers are not applied yet"
        ));
    }
    let apply_by = days(date_from, -lead);
    let stake_to = days(stake_from, lead - 1).min(covers_until);
    let mut at_stake = as_is.between(1, stake_from, stake_to);
    if apply_by < inputs.as_of {
        let lands = days(inputs.as_of, lead);
        at_stake = as_is.between(1, stake_from, days(lands, -1));
        reasons.push(format!(
            "the date to apply by has passed: applied today, the credits land about {lands}, and {} of {scope} goes unpaid before then (P50)",
            money(at_stake)
        ));
    } else {
        reasons.push(format!(
            "applied by {apply_by}, {lead} days before the P10 date, the credits land before the paying can start; applied only once it has started, about {} is paid out of pocket while the application is decided (P50)",
            money(at_stake)
        ));
    }
    Ok(Recommendation {
        program,
        workload,
        amount,
        amount_p90: band(need_p90),
        need: need_p50,
        need_p90,
        apply_by,
        lead_days: lead,
        covers_from: from,
        covers_until,
        at_stake,
        reasons,
    })
}

/// One month of the projection for one workload and model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionRow {
    /// `2027-01`.
    pub month: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub workload: String,
    /// The bill's name for the model; "(other spend)" for the rest of the workload's
    /// spend (other services, Bedrock lines that are not tokens).
    pub model: String,
    pub input_tokens_p50: f64,
    pub output_tokens_p50: f64,
    pub input_tokens_p90: f64,
    pub output_tokens_p90: f64,
    /// The forecast as it stands.
    pub spend_p50: f64,
    pub spend_p90: f64,
    /// With the levers assumed (the workload's saving shared over its rows by spend).
    pub spend_p50_after_levers: f64,
    pub spend_p90_after_levers: f64,
    /// The levers assumed on the workload, or empty.
    pub levers: String,
}

/// The 12 calendar months after the data (the first one from the day after it), each
/// as (its `YYYY-MM`, first day, last day), within the projection.
pub fn months(p: &Projector) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut from = days(p.end(), 1);
    for _ in 0..12 {
        let next = if from.month() == 12 {
            NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
        };
        let Some(next) = next else { break };
        let to = days(next, -1).min(p.until());
        if to < from {
            break;
        }
        out.push((format!("{:04}-{:02}", from.year(), from.month()), from, to));
        from = next;
    }
    out
}

/// Per month (`months`), workload and model: projected tokens and spend, P50 and P90,
/// as the forecast has them and with the levers assumed. A workload's rows add up to its
/// forecast; its models split it by their share of its last 30 days' spend, and each
/// model's tokens are its spend at the bill's own dollars per token.
pub fn projection(inputs: &Inputs) -> Vec<ProjectionRow> {
    let p = inputs.projector;
    let (adjusts, assumed) = levers(inputs);
    let months = months(p);
    let kinds = p.kinds();
    let name_of = |k: usize| {
        kinds[k]
            .workload
            .clone()
            .unwrap_or_else(|| "(unattributed)".into())
    };
    // Per path (P50, P90), with and without levers: month -> workload -> dollars.
    type Sums = Vec<BTreeMap<String, f64>>;
    let sums = |q: usize, adjust: &[Adjust]| -> Sums {
        let mut lines = p.spend_lines(q, adjust);
        months
            .iter()
            .map(|(_, from, to)| {
                let mut m: BTreeMap<String, f64> = BTreeMap::new();
                let mut d = *from;
                while d <= *to {
                    for (k, v) in lines(d) {
                        *m.entry(name_of(k)).or_default() += v;
                    }
                    d = days(d, 1);
                }
                m
            })
            .collect()
    };
    let before = [sums(1, &[]), sums(2, &[])];
    let after = [sums(1, &adjusts), sums(2, &adjusts)];
    let mut names: Vec<String> = before[0]
        .iter()
        .chain(&before[1])
        .flat_map(|m| m.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    let mut rows = Vec::new();
    for (i, (month, from, to)) in months.iter().enumerate() {
        for name in &names {
            let w = inputs.workloads.iter().find(|w| &w.name == name);
            let levers = match w {
                Some(w) if assumed.iter().any(|l| &l.workload == name) => {
                    let mut kinds: Vec<&str> = crate::analyse::hints::levers_of(inputs.config, w)
                        .iter()
                        .map(|l| l.kind.as_str())
                        .collect();
                    kinds.sort();
                    kinds.dedup();
                    kinds.join("+")
                }
                _ => String::new(),
            };
            let get = |s: &Sums| s[i].get(name).copied().unwrap_or(0.0);
            let (b50, b90, a50, a90) = (
                get(&before[0]),
                get(&before[1]),
                get(&after[0]),
                get(&after[1]),
            );
            // The models' shares of the workload's last 30 days, and their tokens a dollar.
            let total = w.map_or(0.0, |w| w.last_30_days);
            let mut models: Vec<(String, f64, f64, f64)> = Vec::new();
            if let Some(w) = w {
                for m in &w.models {
                    if total > 0.0 && m.billed > 0.0 {
                        models.push((
                            m.name.clone().unwrap_or_else(|| m.model.clone()),
                            m.billed / total,
                            m.tokens.input.unwrap_or(0.0) / m.billed,
                            m.tokens.output.unwrap_or(0.0) / m.billed,
                        ));
                    }
                }
            }
            let rest = 1.0 - models.iter().map(|m| m.1).sum::<f64>();
            models.push(("(other spend)".into(), rest.max(0.0), 0.0, 0.0));
            let shares: f64 = models.iter().map(|m| m.1).sum();
            for (model, share, input, output) in models {
                let s = if shares > 0.0 { share / shares } else { 1.0 };
                if s <= 0.0 {
                    continue;
                }
                rows.push(ProjectionRow {
                    month: month.clone(),
                    from: *from,
                    to: *to,
                    workload: name.clone(),
                    model,
                    input_tokens_p50: b50 * s * input,
                    output_tokens_p50: b50 * s * output,
                    input_tokens_p90: b90 * s * input,
                    output_tokens_p90: b90 * s * output,
                    spend_p50: b50 * s,
                    spend_p90: b90 * s,
                    spend_p50_after_levers: a50 * s,
                    spend_p90_after_levers: a90 * s,
                    levers: levers.clone(),
                });
            }
        }
    }
    rows
}
