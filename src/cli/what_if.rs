//! `creditburn what-if`: a hint's lever (or any lever on a workload), a planned launch
//! or an award applied for, drawn through the burn model: every award before and after. No AWS request is made and nothing is written:
//! a recording is replayed, a live source's cache read.

use super::load::offline_report;
use super::*;
use crate::analyse::hints::{self, Cut};
use crate::analyse::levers::{self, HintKind};
use crate::analyse::whatif::{self, WhatIf};

/// Which lever to apply, and what launches and awards to add.
pub(super) struct Choice {
    pub hint: Option<usize>,
    pub lever: Option<String>,
    pub workload: Option<String>,
    pub from: Option<NaiveDate>,
    /// `workload=NAME,from=DATE,daily=AMOUNT[,service=NAME]`, each.
    pub launches: Vec<String>,
    /// `program=P,amount=A,start=DATE,expiry=DATE[,workload=NAME...][,id=ID]`, each.
    pub awards: Vec<String>,
}

pub(super) fn what_if(common: &Common, choice: &Choice, format: Format) -> anyhow::Result<()> {
    let (config, report, described, as_of) = offline_report(common)?;
    let Some(projector) = report.projector.clone() else {
        return Err(anyhow::anyhow!(
            "the analysis kept no burn model to draw again"
        ));
    };
    let end = projector.end();
    let launches = choice
        .launches
        .iter()
        .map(|spec| launch_of(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let awards = choice
        .awards
        .iter()
        .enumerate()
        .map(|(i, spec)| award_of(spec, i, &config, &launches))
        .collect::<Result<Vec<_>, _>>()?;
    let mut words = Vec::new();
    let mut saving = 0.0;
    let adjust = if choice.hint.is_some() || choice.lever.is_some() {
        let (what, workload, cuts) = chosen(&config, &report, choice)?;
        let from = match choice.from {
            Some(d) if d <= end => {
                return Err(BadArgument(format!(
                    "--from {d} is not after the last day of data ({end}); a lever changes the spend to come"
                ))
                .into())
            }
            Some(d) => d,
            None => hints::start_date(&config, Some(&projector), as_of)
                .ok_or_else(|| BadArgument(format!("no start date after {as_of}")))?,
        };
        let w = report
            .workloads
            .iter()
            .find(|w| w.name == workload)
            .ok_or_else(|| BadArgument(format!("no workload {workload:?} in the report")))?;
        saving = cuts.iter().map(|c| c.cost * c.rate[1]).sum();
        words.push(what);
        Some(hints::adjust_of(w, &cuts, from))
    } else {
        None
    };
    for l in &launches {
        words.push(format!(
            "{} spends {} a day more from {}",
            l.workload,
            crate::model::money::money(l.daily),
            l.from
        ));
    }
    for a in &awards {
        words.push(format!(
            "{} award {} of {} from {} to {} for {}",
            a.program.label_long(),
            a.id,
            crate::model::money::money(a.amount),
            a.start,
            a.expiry,
            a.workloads.join(", ")
        ));
    }
    let what = words.join("; ");
    let scenario = whatif::Scenario {
        adjust,
        launches,
        awards,
    };
    let result = whatif::what_if(&projector, &scenario).map_err(BadArgument)?;
    say!("what-if on {described} as of {as_of}: no AWS request made, nothing written");
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "as_of": as_of,
                "change": what,
                "monthly_saving": crate::model::money::round2(saving),
                "what_if": result,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            );
        }
        Format::Table => print!("{}", table_of(&what, saving, &result)),
    }
    Ok(())
}

/// `key=value,key=value` as pairs, or a one-line error naming the flag.
fn pairs<'a>(flag: &str, spec: &'a str) -> Result<Vec<(&'a str, &'a str)>, BadArgument> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| BadArgument(format!("{flag} {spec:?}: {p:?} is not key=value")))
        })
        .collect()
}

fn day_of(flag: &str, key: &str, v: &str) -> Result<NaiveDate, BadArgument> {
    v.parse()
        .map_err(|_| BadArgument(format!("{flag} {key}={v:?} is not a date (YYYY-MM-DD)")))
}

fn amount_of(flag: &str, key: &str, v: &str) -> Result<f64, BadArgument> {
    match v.trim_start_matches('$').replace('_', "").parse::<f64>() {
        Ok(a) if a.is_finite() && a > 0.0 => Ok(a),
        _ => Err(BadArgument(format!(
            "{flag} {key}={v:?} is not an amount above 0 (dollars)"
        ))),
    }
}

/// `--launch workload=NAME,from=DATE,daily=AMOUNT[,service=NAME]`.
fn launch_of(spec: &str) -> Result<crate::analyse::burn::Launch, BadArgument> {
    let flag = "--launch";
    let (mut workload, mut from, mut daily, mut service) = (None, None, None, None);
    for (k, v) in pairs(flag, spec)? {
        match k {
            "workload" => workload = Some(v.to_string()),
            "from" => from = Some(day_of(flag, k, v)?),
            "daily" => daily = Some(amount_of(flag, k, v)?),
            "service" => service = Some(v.to_string()),
            _ => {
                return Err(BadArgument(format!(
                    "{flag} {spec:?}: {k:?} is not one of workload, from, daily, service"
                )))
            }
        }
    }
    let need = |what: &str| BadArgument(format!("{flag} {spec:?} needs {what}="));
    Ok(crate::analyse::burn::Launch {
        workload: workload.ok_or_else(|| need("workload"))?,
        from: from.ok_or_else(|| need("from"))?,
        daily: daily.ok_or_else(|| need("daily"))?,
        service: service.unwrap_or_else(|| "Amazon Bedrock".into()),
    })
}

/// `--award program=P,amount=A,start=DATE,expiry=DATE[,workload=NAME...][,id=ID]`: an
/// award paying every service (Marketplace not covered) for the workloads named, or
/// every workload (the config's and the launches') when none is.
fn award_of(
    spec: &str,
    i: usize,
    config: &Config,
    launches: &[crate::analyse::burn::Launch],
) -> Result<crate::config::Award, BadArgument> {
    let flag = "--award";
    let (mut program, mut amount, mut start, mut expiry, mut id) = (None, None, None, None, None);
    let mut workloads: Vec<String> = Vec::new();
    let known: Vec<String> = config
        .workloads
        .iter()
        .map(|w| w.name.clone())
        .chain(launches.iter().map(|l| l.workload.clone()))
        .collect();
    for (k, v) in pairs(flag, spec)? {
        match k {
            "program" => {
                program = Some(crate::config::Program::from_name(v).ok_or_else(|| {
                    BadArgument(format!(
                        "{flag} program={v:?} is not one of bedrock_poc, activate_founders, activate_portfolio, build_for_startups, genai_accelerator, other"
                    ))
                })?)
            }
            "amount" => amount = Some(amount_of(flag, k, v)?),
            "start" => start = Some(day_of(flag, k, v)?),
            "expiry" => expiry = Some(day_of(flag, k, v)?),
            "id" => id = Some(v.to_string()),
            "workload" => {
                if !known.iter().any(|w| w == v) {
                    return Err(BadArgument(format!(
                        "{flag} workload={v:?} is not a workload of the config or a --launch ({})",
                        known.join(", ")
                    )));
                }
                workloads.push(v.to_string());
            }
            _ => {
                return Err(BadArgument(format!(
                    "{flag} {spec:?}: {k:?} is not one of program, amount, start, expiry, workload, id"
                )))
            }
        }
    }
    let need = |what: &str| BadArgument(format!("{flag} {spec:?} needs {what}="));
    let program = program.ok_or_else(|| need("program"))?;
    let amount = amount.ok_or_else(|| need("amount"))?;
    let start = start.ok_or_else(|| need("start"))?;
    let expiry = expiry.ok_or_else(|| need("expiry"))?;
    if expiry < start {
        return Err(BadArgument(format!(
            "{flag} {spec:?}: expiry {expiry} is before start {start}"
        )));
    }
    if workloads.is_empty() {
        workloads = known;
    }
    let id = id.unwrap_or_else(|| format!("new-{}-{}", program.name(), i + 1));
    if config.awards.iter().any(|a| a.id == id) {
        return Err(BadArgument(format!(
            "{flag} id={id:?} is already an award of the config"
        )));
    }
    let names: Vec<&str> = workloads.iter().map(String::as_str).collect();
    let mut award =
        crate::config::Award::granted(&id, start, expiry, vec![(start, amount)], &names);
    award.program = program;
    Ok(award)
}

/// The lever chosen, in words, its workload, and its cuts per line of the bill.
fn chosen(
    config: &Config,
    report: &Report,
    choice: &Choice,
) -> anyhow::Result<(String, String, Vec<Cut>)> {
    if let Some(n) = choice.hint {
        let h = report.hints.iter().find(|h| h.number == n).ok_or_else(|| {
            BadArgument(format!(
                "--hint {n}: the report has {} (see `creditburn report`)",
                count(report.hints.len() as u64, "hint", "hints")
            ))
        })?;
        if h.kind == HintKind::PullWorkForward {
            return Err(BadArgument(format!(
                "--hint {n} pulls work forward, which adds spend rather than cutting it: its figure is the {} it keeps from being forfeited",
                crate::model::money::money(h.monthly_saving)
            ))
            .into());
        }
        let workload = h.workload.clone().unwrap_or_default();
        return Ok((format!("hint {n}: {}", h.text), workload, h.cuts.clone()));
    }
    let (Some(lever), Some(workload)) = (&choice.lever, &choice.workload) else {
        return Err(
            BadArgument("give --hint N, or --lever KIND with --workload NAME".into()).into(),
        );
    };
    let w = config.workload(workload).ok_or_else(|| {
        BadArgument(format!(
            "--workload {workload:?} is not a workload of the config ({})",
            config
                .workloads
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let spend = report
        .workloads
        .iter()
        .find(|s| s.name == w.name)
        .ok_or_else(|| BadArgument(format!("no workload {workload:?} in the report")))?;
    let all = hints::levers_of(config, spend);
    let (label, cuts) = if lever == "all" {
        (
            "every lever together".to_string(),
            levers::combined_cuts(&all),
        )
    } else {
        let kind = HintKind::from_name(lever)
            .filter(|k| *k != HintKind::PullWorkForward)
            .ok_or_else(|| {
                BadArgument(format!(
                    "--lever {lever:?} is not a lever; use all or one of {}",
                    HintKind::LEVERS
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let cuts: Vec<Cut> = all
            .into_iter()
            .filter(|l| l.kind == kind)
            .flat_map(|l| l.cuts)
            .collect();
        (kind.as_str().replace('_', " "), cuts)
    };
    if cuts.is_empty() {
        return Err(BadArgument(format!(
            "{label} does not apply to {workload}: nothing on its last 30 days' bill, at the table's prices, would change (`creditburn report --format json` lists its models and their price check)"
        ))
        .into());
    }
    Ok((format!("{label} on {workload}"), w.name.clone(), cuts))
}

/// A date's P50 with its range: "2026-12-06 (2026-12-03 to 2026-12-10)"; `none` where
/// a quantile has no date, and the P50 alone when the three agree.
fn dates(q: &crate::analyse::burn::Quantiles<Option<NaiveDate>>, none: &str) -> String {
    let word = |d: Option<NaiveDate>, none: &str| d.map_or(none.to_string(), |d| d.to_string());
    if q.p10 == q.p50 && q.p50 == q.p90 {
        return word(q.p50, none);
    }
    format!(
        "{} ({} to {})",
        word(q.p50, none),
        word(q.p10, "later"),
        word(q.p90, "later")
    )
}

/// Every award before and after, for an 80-column terminal.
fn table_of(what: &str, saving: f64, r: &WhatIf) -> String {
    use crate::model::money::money;
    use crate::model::text::wrap;
    let mut out = wrap(&format!("what-if: {what}"), 80);
    if let Some(l) = &r.lever {
        out.push_str(&wrap(
            &format!(
                "about {} a month from {}, cutting {}",
                money(saving),
                l.from,
                l.cuts
                    .iter()
                    .map(|c| format!("{} by {:.1}%", c.service, c.share * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            80,
        ));
    }
    out.push_str(&wrap(
        "each figure is the forecast's P50, its P10 to P90 in brackets",
        80,
    ));
    for a in &r.awards {
        out.push_str(&format!("\n{}, expires {}\n", a.award, a.expiry_date));
        let dates = |o: &whatif::Outlook| dates(&o.exhaustion_date, "not before expiry");
        let unused = |o: &whatif::Outlook| {
            format!(
                "{} ({} to {})",
                money(o.unused_at_expiry.p50),
                money(o.unused_at_expiry.p10),
                money(o.unused_at_expiry.p90)
            )
        };
        let before = |f: &dyn Fn(&whatif::Outlook) -> String| {
            a.before.as_ref().map_or("(a new award)".to_string(), f)
        };
        out.push_str(&format!("  runs out          before {}\n", before(&dates)));
        out.push_str(&format!("                    after  {}\n", dates(&a.after)));
        out.push_str(&format!("  unused at expiry  before {}\n", before(&unused)));
        out.push_str(&format!(
            "                    after  {}\n",
            unused(&a.after)
        ));
    }
    let begins = |q| dates(q, "not within the projection");
    out.push_str("\nout of pocket, as AWS draws the credits\n");
    out.push_str(&format!(
        "  starts            before {}\n",
        begins(&r.out_of_pocket_before)
    ));
    out.push_str(&format!(
        "                    after  {}\n",
        begins(&r.out_of_pocket_after)
    ));
    out
}
