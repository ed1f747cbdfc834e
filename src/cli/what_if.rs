//! `creditburn what-if`: a hint's lever (or any lever on a workload) applied to the burn
//! model, every award before and after. No AWS request is made and nothing is written:
//! a recording is replayed, a live source's cache read.

use super::load::offline_report;
use super::*;
use crate::analyse::hints::{self, Cut};
use crate::analyse::levers::{self, HintKind};
use crate::analyse::whatif::{self, WhatIf};

/// Which lever to apply.
pub(super) struct Choice {
    pub hint: Option<usize>,
    pub lever: Option<String>,
    pub workload: Option<String>,
    pub from: Option<NaiveDate>,
}

pub(super) fn what_if(common: &Common, choice: &Choice, format: Format) -> anyhow::Result<()> {
    let (config, report, described, as_of) = offline_report(common)?;
    let Some(projector) = report.projector.clone() else {
        return Err(anyhow::anyhow!(
            "the analysis kept no burn model to draw again"
        ));
    };
    let (what, workload, cuts) = chosen(&config, &report, choice)?;
    let end = projector.end();
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
    let saving: f64 = cuts.iter().map(|c| c.cost * c.rate[1]).sum();
    let adjust = hints::adjust_of(w, &cuts, from);
    let awards: Vec<(String, NaiveDate)> = config
        .awards
        .iter()
        .map(|a| (a.id.clone(), a.expiry))
        .collect();
    let result = whatif::what_if(&projector, &awards, &adjust);
    say!("what-if on {described} as of {as_of}: no AWS request made, nothing written");
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "as_of": as_of,
                "lever": what,
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
    out.push_str(&wrap(
        &format!(
            "about {} a month from {}, cutting {}; each figure is the forecast's P50, its P10 to P90 in brackets",
            money(saving),
            r.from,
            r.cuts
                .iter()
                .map(|c| format!("{} by {:.1}%", c.service, c.share * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        ),
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
        out.push_str(&format!(
            "  runs out          before {}\n",
            dates(&a.before)
        ));
        out.push_str(&format!("                    after  {}\n", dates(&a.after)));
        out.push_str(&format!(
            "  unused at expiry  before {}\n",
            unused(&a.before)
        ));
        out.push_str(&format!(
            "                    after  {}\n",
            unused(&a.after)
        ));
    }
    let begins = |q| dates(q, "not within the horizon");
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
