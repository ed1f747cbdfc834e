//! What-if: the burn model drawn again with a lever applied to a workload's spend, beside
//! the model as it stands. Pure: both sides come from `burn::Projector::project`, the
//! step the report's own figures come from, so the only difference is the lever.

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::burn::{Adjust, Projector, Quantiles};

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
    pub before: Outlook,
    pub after: Outlook,
}

/// Every award before and after, and when the account starts paying out of pocket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    pub workload: String,
    /// The first day the lever applies.
    pub from: NaiveDate,
    /// Per kind of the workload's spend (service, Marketplace or not), the share cut.
    pub cuts: Vec<KindCut>,
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

/// The model as it stands and with `adjust`, for every award (`awards`: their ids and
/// expiries, in the model's order).
pub fn what_if(projector: &Projector, awards: &[(String, NaiveDate)], adjust: &Adjust) -> WhatIf {
    let before = projector.project(&[]);
    let after = projector.project(std::slice::from_ref(adjust));
    let outlook = |p| {
        move |c: usize| {
            let (exhaustion_date, unused_at_expiry) = projector.award_forecast(p, c);
            Outlook {
                exhaustion_date,
                unused_at_expiry,
            }
        }
    };
    WhatIf {
        workload: adjust.workload.clone(),
        from: adjust.from,
        cuts: adjust
            .cuts
            .iter()
            .map(|(service, marketplace, share)| KindCut {
                service: service.clone(),
                marketplace: *marketplace,
                share: (share * 10_000.0).round() / 10_000.0,
            })
            .collect(),
        awards: awards
            .iter()
            .enumerate()
            .map(|(c, (id, expiry))| AwardChange {
                award: id.clone(),
                expiry_date: *expiry,
                before: outlook(&before)(c),
                after: outlook(&after)(c),
            })
            .collect(),
        out_of_pocket_before: projector.out_of_pocket(&before).begins,
        out_of_pocket_after: projector.out_of_pocket(&after).begins,
    }
}
