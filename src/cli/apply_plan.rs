//! `creditburn plan` (named apart from `source::plan`, the query plan): the next awards to apply for (program, amount, date to apply by,
//! what is at stake), and with `--projection` the numbers an application asks for: a
//! monthly CSV and a one-page Markdown summary. No AWS request is made and nothing is
//! written but `--out`.

use std::path::Path;

use super::load::offline_report;
use super::*;
use crate::analyse::plan::{self, Plan, ProjectionRow};
use crate::model::money::money;
use crate::model::text::wrap;

pub(super) struct Options<'a> {
    pub projection: bool,
    pub out: Option<&'a Path>,
    pub no_levers: bool,
    pub format: Format,
}

pub(super) fn plan(common: &Common, o: &Options) -> anyhow::Result<()> {
    let (config, report, described, as_of) = offline_report(common)?;
    let projector = report
        .projector
        .clone()
        .context("the analysis kept no burn model to plan from")?;
    let inputs = plan::Inputs {
        config: &config,
        projector: &projector,
        workloads: &report.workloads,
        credits: &report.credits,
        as_of,
        levers: config.plan.assume_levers && !o.no_levers,
    };
    let the_plan = match (&report.plan, inputs.levers == config.plan.assume_levers) {
        (Some(p), true) => p.clone(),
        _ => plan::plan(&inputs),
    };
    say!("plan on {described} as of {as_of}: no AWS request made");
    if o.projection {
        let Some(out) = o.out else {
            return Err(BadArgument("--projection needs --out FILE.csv".into()).into());
        };
        let rows = plan::projection(&inputs);
        let summary_path = out.with_extension("md");
        if summary_path == out {
            return Err(BadArgument(format!(
                "--out {}: give the CSV a name ending .csv; the summary is written beside it as .md",
                out.display()
            ))
            .into());
        }
        write_whole(out, |file| write_csv(file, &rows))?;
        write_whole(&summary_path, |file| {
            use std::io::Write;
            file.write_all(summary(&report, &the_plan, &rows).as_bytes())
                .map_err(|e| e.to_string())
        })?;
        say!(
            "wrote {} to {} and the application's summary to {}",
            count(rows.len() as u64, "row", "rows"),
            out.display(),
            summary_path.display()
        );
        return Ok(());
    }
    match o.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "as_of": as_of,
                "plan": the_plan,
            }))
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        ),
        Format::Table => print!("{}", table_of(&the_plan)),
    }
    Ok(())
}

fn who(r: &plan::Recommendation) -> String {
    r.workload.clone().unwrap_or_else(|| "the account".into())
}

/// "from 2027-02-10 (P10 …, P90 …) as things stand, and from 2027-03-07 (…) with the
/// levers below": both dates when the levers move it, so that the plan never seems to
/// contradict the report and the `out_of_pocket` alert.
fn out_of_pocket_words(p: &Plan) -> String {
    let from = crate::analyse::alerts::out_of_pocket_from;
    if p.out_of_pocket_as_is == p.out_of_pocket_begins {
        from(&p.out_of_pocket_begins)
    } else {
        format!(
            "{} as things stand, and {} with the levers assumed",
            from(&p.out_of_pocket_as_is),
            from(&p.out_of_pocket_begins)
        )
    }
}

/// The plan for an 80-column terminal.
fn table_of(p: &Plan) -> String {
    let mut out = wrap(
        &format!(
            "plan as of {}: the account starts paying out of pocket {} (projected to {})",
            p.as_of,
            out_of_pocket_words(p),
            p.projected_until
        ),
        80,
    );
    if p.recommendations.is_empty() {
        out.push_str("\nnothing to apply for: see below why each program is not proposed\n");
    } else {
        out.push_str(&format!(
            "\n{:<20} {:<18} {:>9} {:>9} {:>10} {:>9}\n",
            "PROGRAM", "FOR", "ASK (P50)", "P90", "APPLY BY", "AT STAKE"
        ));
        for r in &p.recommendations {
            out.push_str(&format!(
                "{:<20} {:<18} {:>9} {:>9} {:>10} {:>9}\n",
                crate::model::text::cap(r.program.label_long(), 20),
                crate::model::text::cap(&who(r), 18),
                whole(r.amount),
                whole(r.amount_p90),
                r.apply_by,
                whole(r.at_stake)
            ));
        }
        for r in &p.recommendations {
            out.push('\n');
            out.push_str(&wrap(
                &format!(
                    "{} for {}: ask {} (P90 {}), covering {} to {}; apply by {} ({} days' lead time).",
                    r.program.label_long(),
                    who(r),
                    money(r.amount),
                    money(r.amount_p90),
                    r.covers_from,
                    r.covers_until,
                    r.apply_by,
                    r.lead_days
                ),
                80,
            ));
            for reason in &r.reasons {
                out.push_str(&wrap(&format!("- {reason}"), 80));
            }
        }
        out.push('\n');
        out.push_str(&wrap(
            "Each ask is sized on its own: two that cover the same spend are alternatives for it, not a sum.",
            80,
        ));
    }
    if !p.not_proposed.is_empty() {
        out.push_str("\nnot proposed\n");
        for n in &p.not_proposed {
            out.push_str(&wrap(
                &format!(
                    "- {}{}: {}",
                    n.program.label_long(),
                    n.workload
                        .as_ref()
                        .map(|w| format!(" for {w}"))
                        .unwrap_or_default(),
                    n.why
                ),
                80,
            ));
        }
    }
    out
}

/// "$12,345": dollars to the dollar, for a narrow column.
fn whole(v: f64) -> String {
    let m = money(v.round());
    m.strip_suffix(".00").unwrap_or(&m).to_string()
}

/// The projection as CSV: tokens to the token, dollars to the cent.
fn write_csv(file: &mut std::fs::File, rows: &[ProjectionRow]) -> Result<(), String> {
    let mut w = csv::Writer::from_writer(file);
    let cents = |v: f64| format!("{:.2}", crate::model::money::round2(v));
    let tokens = |v: f64| format!("{:.0}", v.round());
    w.write_record([
        "month",
        "from",
        "to",
        "workload",
        "model",
        "input_tokens_p50",
        "output_tokens_p50",
        "input_tokens_p90",
        "output_tokens_p90",
        "spend_p50",
        "spend_p90",
        "spend_p50_after_levers",
        "spend_p90_after_levers",
        "levers_assumed",
    ])
    .map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record([
            r.month.clone(),
            r.from.to_string(),
            r.to.to_string(),
            r.workload.clone(),
            r.model.clone(),
            tokens(r.input_tokens_p50),
            tokens(r.output_tokens_p50),
            tokens(r.input_tokens_p90),
            tokens(r.output_tokens_p90),
            cents(r.spend_p50),
            cents(r.spend_p90),
            cents(r.spend_p50_after_levers),
            cents(r.spend_p90_after_levers),
            r.levers.clone(),
        ])
        .map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}

/// Millions of tokens, for the summary: "1,234.5M".
fn millions(v: f64) -> String {
    let m = money(v / 1e6);
    format!("{}M", m.trim_start_matches('$'))
}

/// The one-page summary an application asks for, in Markdown: the model family, the
/// monthly consumption, the trajectory after the credits, and the sized ask.
pub(super) fn summary(report: &Report, p: &Plan, rows: &[ProjectionRow]) -> String {
    use std::collections::BTreeMap;
    let mut s = format!(
        "# Credit application: the numbers\n\nAs of {} (data to {}), from creditburn's forecast of the bill's own spend and tokens. P50 is the forecast's middle, P90 its high case.\n\n",
        p.as_of, report.data.last_day
    );
    s.push_str("## Model family\n\n");
    let mut any = false;
    for w in &report.workloads {
        let bedrock: f64 = w.models.iter().map(|m| m.billed).sum();
        if bedrock <= 0.0 {
            continue;
        }
        any = true;
        let mut models: Vec<&crate::analyse::tokens::ModelCheck> = w.models.iter().collect();
        models.sort_by(|a, b| b.billed.total_cmp(&a.billed));
        s.push_str(&format!(
            "- **{}** ({}): {}\n",
            w.name,
            if w.interactive {
                "interactive"
            } else {
                "batch-shaped"
            },
            models
                .iter()
                .map(|m| format!(
                    "{} {:.0}%",
                    m.name.as_deref().unwrap_or(&m.model),
                    100.0 * m.billed / bedrock
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !any {
        s.push_str("No Bedrock tokens on the bill's last 30 days.\n");
    }
    s.push_str("\nShares are of each workload's Bedrock token spend over the last 30 days.\n\n## Monthly consumption\n\n");
    s.push_str("| month | input tokens (P50) | output tokens (P50) | spend P50 | spend P90 | with levers P50 |\n|---|---:|---:|---:|---:|---:|\n");
    let mut by_month: BTreeMap<&str, [f64; 5]> = BTreeMap::new();
    for r in rows {
        let m = by_month.entry(r.month.as_str()).or_default();
        m[0] += r.input_tokens_p50;
        m[1] += r.output_tokens_p50;
        m[2] += r.spend_p50;
        m[3] += r.spend_p90;
        m[4] += r.spend_p50_after_levers;
    }
    for (month, m) in &by_month {
        s.push_str(&format!(
            "| {month} | {} | {} | {} | {} | {} |\n",
            millions(m[0]),
            millions(m[1]),
            money(m[2]),
            money(m[3]),
            money(m[4])
        ));
    }
    if let Some((first, _, _)) = rows.first().map(|r| (&r.month, r.from, r.to)) {
        s.push_str(&format!(
            "\nThe first month ({first}) starts the day after the data. Tokens are each model's share of the spend at the bill's own dollars per token, before levers.\n"
        ));
    }
    s.push_str("\n## Trajectory after the credits\n\n");
    s.push_str(&format!(
        "The account starts paying out of pocket {}.\n",
        out_of_pocket_words(p)
    ));
    s.push_str("\n## The ask\n\n");
    if p.levers.is_empty() {
        s.push_str("No optimisation lever is assumed.\n\n");
    } else {
        s.push_str(&format!(
            "Sized with these levers already applied (from {}): {}.\n\n",
            p.levers[0].from,
            p.levers
                .iter()
                .map(|l| format!(
                    "{} saves about {} a month",
                    l.workload,
                    money(l.monthly_saving)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if p.recommendations.is_empty() {
        s.push_str("Nothing to apply for.\n");
    } else {
        s.push_str("| program | for | ask (P50) | P90 | covers | apply by |\n|---|---|---:|---:|---|---|\n");
        for r in &p.recommendations {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} to {} | {} |\n",
                r.program.label_long(),
                who(r),
                money(r.amount),
                money(r.amount_p90),
                r.covers_from,
                r.covers_until,
                r.apply_by
            ));
        }
        for r in &p.recommendations {
            s.push_str(&format!("\n{} for {}:\n", r.program.label_long(), who(r)));
            for reason in &r.reasons {
                s.push_str(&format!("- {reason}\n"));
            }
        }
    }
    s
}
