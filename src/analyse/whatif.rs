//! What-if: the burn model drawn again with a lever applied to a workload's spend, a
//! launch added or an award granted, beside the model as it stands. Pure: both sides come from `burn::Projector::project`, the
//! step the report's own figures come from, so the only difference is the lever.

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::burn::{Adjust, Launch, Projector, Quantiles};
use crate::config::Award;

/// One award's outlook: when it runs out (null: not before expiry) and what it leaves
/// unused, P10/P50/P90.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlook {
    pub exhaustion_date: Quantiles<Option<NaiveDate>>,
    #[serde(serialize_with = "money_quantiles")]
    pub unused_at_expiry: Quantiles<f64>,
}

fn money_quantiles<S: serde::Serializer>(q: &Quantiles<f64>, s: S) -> Result<S::Ok, S::Error> {
    use crate::model::money::round2;
    Quantiles {
        p10: round2(q.p10),
        p50: round2(q.p50),
        p90: round2(q.p90),
    }
    .serialize(s)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwardChange {
    pub award: String,
    pub expiry_date: NaiveDate,
    /// None for an award the what-if grants.
    pub before: Option<Outlook>,
    pub after: Outlook,
}

/// The lever a what-if applies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeverChange {
    pub workload: String,
    /// The first day the lever applies.
    pub from: NaiveDate,
    /// Per kind of the workload's spend (service, Marketplace or not), the share cut.
    pub cuts: Vec<KindCut>,
}

/// An award the what-if grants (one applied for).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAward {
    pub id: String,
    pub program: crate::config::Program,
    #[serde(serialize_with = "crate::model::money::cents")]
    pub amount: f64,
    pub start: NaiveDate,
    pub expiry: NaiveDate,
    pub workloads: Vec<String>,
}

/// Every award before and after, and when the account starts paying out of pocket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    pub lever: Option<LeverChange>,
    pub launches: Vec<Launch>,
    pub new_awards: Vec<NewAward>,
    pub awards: Vec<AwardChange>,
    /// The first day eligible spend goes unpaid, as AWS draws the credits.
    pub out_of_pocket_before: Quantiles<Option<NaiveDate>>,
    pub out_of_pocket_after: Quantiles<Option<NaiveDate>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindCut {
    pub service: String,
    pub marketplace: bool,
    /// Of the kind's spend, 0 to 1.
    pub share: f64,
}

/// What a what-if changes: a lever on a workload's spend, launches that add spend, and
/// awards applied for. Any of them, together.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub adjust: Option<Adjust>,
    pub launches: Vec<Launch>,
    pub awards: Vec<Award>,
}

/// The model as it stands and with `scenario`, for every award (the config's, in the
/// model's order, then the scenario's). Err names a launch or an award that starts
/// before the data ends.
pub fn what_if(projector: &Projector, scenario: &Scenario) -> Result<WhatIf, String> {
    let changed = projector.with(&scenario.launches, &scenario.awards)?;
    let adjust: Vec<Adjust> = scenario.adjust.iter().cloned().collect();
    let before = projector.project(&[]);
    let after = changed.project(&adjust);
    let outlook = |p: &Projector, proj: &crate::analyse::burn::Projection, c: usize| {
        let (exhaustion_date, unused_at_expiry) = p.award_forecast(proj, c);
        Outlook {
            exhaustion_date,
            unused_at_expiry,
        }
    };
    let existing = projector.awards().count();
    Ok(WhatIf {
        lever: scenario.adjust.as_ref().map(|a| LeverChange {
            workload: a.workload.clone(),
            from: a.from,
            cuts: a
                .cuts
                .iter()
                .map(|(service, marketplace, share)| KindCut {
                    service: service.clone(),
                    marketplace: *marketplace,
                    share: (share * 10_000.0).round() / 10_000.0,
                })
                .collect(),
        }),
        launches: scenario.launches.clone(),
        new_awards: scenario
            .awards
            .iter()
            .map(|a| NewAward {
                id: a.id.clone(),
                program: a.program,
                amount: a.amount,
                start: a.start,
                expiry: a.expiry,
                workloads: a.workloads.clone(),
            })
            .collect(),
        awards: changed
            .awards()
            .enumerate()
            .map(|(c, (id, expiry))| AwardChange {
                award: id.to_string(),
                expiry_date: expiry,
                before: (c < existing).then(|| outlook(projector, &before, c)),
                after: outlook(&changed, &after, c),
            })
            .collect(),
        out_of_pocket_before: projector.out_of_pocket(&before).begins,
        out_of_pocket_after: changed.out_of_pocket(&after).begins,
    })
}
