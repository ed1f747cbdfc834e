//! The cost table rebuilt from Cost Explorer's slices: generated bills of known cells,
//! sliced as Cost Explorer slices them, rebuilt by `table::normalise_for`. The rebuilt
//! table gives back every slice it was built from, and every row it does not flag
//! `approximated` is the bill's own.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use aws_sdk_costexplorer::types::{DateInterval, Group, MetricValue, ResultByTime};
use creditburn::analyse::table::{self, CostTable, Needs};
use creditburn::model::page::{CostPage, RecordScope};
use proptest::prelude::*;

/// One cell of a bill: (day index, service, usage type, account, tag value or None),
/// with its cost and quantity.
type Cell = ((u8, String, String, String, Option<String>), (f64, f64));

fn day(i: u8) -> String {
    (chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Days::new(i as u64)).to_string()
}

fn metrics(cost: f64, quantity: f64) -> std::collections::HashMap<String, MetricValue> {
    [
        ("UnblendedCost", format!("{cost:.10}"), "USD"),
        ("UsageQuantity", format!("{quantity:.10}"), "N/A"),
    ]
    .into_iter()
    .map(|(k, v, u)| {
        (
            k.to_string(),
            MetricValue::builder().amount(v).unit(u).build(),
        )
    })
    .collect()
}

/// One query's page: the cells summed by (day, `key`), grouped by `defs`.
fn slice(
    cells: &[Cell],
    defs: [(&str, &str); 2],
    key: impl Fn(&Cell) -> (String, String),
) -> CostPage {
    type Groups = BTreeMap<(String, String), (f64, f64)>;
    let mut by_day: BTreeMap<u8, Groups> = BTreeMap::new();
    for cell in cells {
        let e = by_day
            .entry(cell.0 .0)
            .or_default()
            .entry(key(cell))
            .or_default();
        e.0 += cell.1 .0;
        e.1 += cell.1 .1;
    }
    let mut output = GetCostAndUsageOutput::builder();
    for (d, groups) in by_day {
        let mut result = ResultByTime::builder()
            .time_period(
                DateInterval::builder()
                    .start(day(d))
                    .end(day(d + 1))
                    .build()
                    .unwrap(),
            )
            .estimated(false);
        for ((a, b), (c, q)) in groups {
            result = result.groups(
                Group::builder()
                    .keys(a)
                    .keys(b)
                    .set_metrics(Some(metrics(c, q)))
                    .build(),
            );
        }
        output = output.results_by_time(result.build());
    }
    crate::analysis::finish_page(output, RecordScope::Usage, defs)
}

fn tag_key(cell: &Cell) -> String {
    format!("team${}", cell.0 .4.clone().unwrap_or_default())
}

/// The slices Cost Explorer gives of `cells`: by service, by account, by tag, and (with
/// `joint`) by tag and account and by tag and service together.
fn pages(cells: &[Cell], joint: bool) -> Vec<CostPage> {
    let ut = ("DIMENSION", "USAGE_TYPE");
    let mut out = vec![
        slice(cells, [("DIMENSION", "SERVICE"), ut], |c| {
            (c.0 .1.clone(), c.0 .2.clone())
        }),
        slice(cells, [("DIMENSION", "LINKED_ACCOUNT"), ut], |c| {
            (c.0 .3.clone(), c.0 .2.clone())
        }),
        slice(cells, [("TAG", "team"), ut], |c| {
            (tag_key(c), c.0 .2.clone())
        }),
    ];
    if joint {
        out.push(slice(
            cells,
            [("TAG", "team"), ("DIMENSION", "LINKED_ACCOUNT")],
            |c| (tag_key(c), c.0 .3.clone()),
        ));
        out.push(slice(
            cells,
            [("TAG", "team"), ("DIMENSION", "SERVICE")],
            |c| (tag_key(c), c.0 .1.clone()),
        ));
    }
    out
}

/// A line's key: (day, service, usage type, account, tag).
type RowKey = (String, String, String, Option<String>, Option<String>);

/// A row of the rebuilt table: (its key, cost, quantity, approximated).
type Row = (RowKey, f64, f64, bool);

fn rows(t: &CostTable) -> Vec<Row> {
    let df = &t.df;
    let text = |name: &str| crate::support::text_column(df, name);
    let dates: Vec<String> = df
        .column(table::DATE)
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .iter()
        .map(|d| table::from_epoch_days(d.unwrap()).to_string())
        .collect();
    let (service, usage_type, account, tag) = (
        text(table::SERVICE),
        text(table::USAGE_TYPE),
        text(table::ACCOUNT),
        text("tag:team"),
    );
    let (cost, quantity) = (
        crate::support::f64_column(df, table::COST),
        crate::support::f64_column(df, table::QUANTITY),
    );
    let approximated = crate::support::bool_column(df, table::APPROXIMATED);
    (0..df.height())
        .map(|i| {
            (
                (
                    dates[i].clone(),
                    service[i].clone().unwrap(),
                    usage_type[i].clone().unwrap(),
                    account[i].clone(),
                    tag[i].clone(),
                ),
                cost[i],
                quantity[i],
                approximated[i],
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
}

/// Sums of `(cost, quantity)` by a key, of the bill's cells and of the table's rows.
fn sums<K: Ord>(items: impl Iterator<Item = (K, f64, f64)>) -> BTreeMap<K, (f64, f64)> {
    let mut out: BTreeMap<K, (f64, f64)> = BTreeMap::new();
    for (k, c, q) in items {
        let e = out.entry(k).or_default();
        e.0 += c;
        e.1 += q;
    }
    out
}

fn agree<K: Ord + std::fmt::Debug>(
    what: &str,
    want: BTreeMap<K, (f64, f64)>,
    got: BTreeMap<K, (f64, f64)>,
) -> Result<(), TestCaseError> {
    let keys: BTreeSet<&K> = want.keys().chain(got.keys()).collect();
    for k in keys {
        let (w, g) = (
            want.get(k).copied().unwrap_or_default(),
            got.get(k).copied().unwrap_or_default(),
        );
        prop_assert!(
            close(w.0, g.0) && close(w.1, g.1),
            "{what} {k:?}: the bill has {w:?}, the table {g:?}"
        );
    }
    Ok(())
}

/// Checks a table rebuilt from `cells` with `needs`.
fn check(cells: &[Cell], t: &CostTable, needs: Needs) -> Result<(), TestCaseError> {
    let rows = rows(t);
    let ut = |c: &Cell| (day(c.0 .0), c.0 .2.clone());
    // Every slice the table was built from, given back: by service, by tag, by account
    // (when split by account). Each is the bill's lines and the table's rows summed by
    // (day, usage type, the slice's value).
    let lines: Vec<(RowKey, f64, f64)> = cells
        .iter()
        .map(|c| {
            let key = (
                day(c.0 .0),
                c.0 .1.clone(),
                c.0 .2.clone(),
                Some(c.0 .3.clone()),
                c.0 .4.clone(),
            );
            (key, c.1 .0, c.1 .1)
        })
        .collect();
    type Value = fn(&RowKey) -> Option<String>;
    let slices: [(&str, Value); 3] = [
        ("service", |k| Some(k.1.clone())),
        ("tag", |k| k.4.clone()),
        ("account", |k| k.3.clone()),
    ];
    for (what, value) in slices {
        if what == "account" && !needs.accounts {
            continue;
        }
        let by = |k: &RowKey| (k.0.clone(), k.2.clone(), value(k));
        agree(
            what,
            sums(lines.iter().map(|(k, c, q)| (by(k), *c, *q))),
            sums(rows.iter().map(|(k, c, q, _)| (by(k), *c, *q))),
        )?;
    }
    if !needs.accounts {
        prop_assert!(
            rows.iter().all(|r| r.0 .3.is_none()),
            "an account without the need"
        );
    }
    // Every row not flagged approximated is the bill's: its (day, service, usage type,
    // account when split, tag) summed over the bill.
    let bill = sums(cells.iter().map(|c| {
        let account = needs.accounts.then(|| c.0 .3.clone());
        (
            (
                day(c.0 .0),
                c.0 .1.clone(),
                c.0 .2.clone(),
                account,
                c.0 .4.clone(),
            ),
            c.1 .0,
            c.1 .1,
        )
    }));
    let mut flagged = 0.0;
    let mut flagged_cells = BTreeSet::new();
    for (key, cost, quantity, approximated) in &rows {
        if *approximated {
            flagged_cells.insert((key.0.clone(), key.2.clone()));
            continue;
        }
        let want = bill.get(key).copied().unwrap_or_default();
        prop_assert!(
            close(want.0, *cost) && close(want.1, *quantity),
            "row {key:?} claims to be exact at {cost}/{quantity}; the bill has {want:?}"
        );
    }
    for c in cells {
        if flagged_cells.contains(&ut(c)) {
            flagged += c.1 .0;
        }
    }
    prop_assert!(
        close(flagged, t.approximated_cost),
        "{flagged} vs {}",
        t.approximated_cost
    );
    Ok(())
}

/// A bill: cells on up to 3 days over up to 3 usage types, 3 accounts and 4 tag values
/// (one of them: no tag), each usage type under one service (or, for the last, two, as
/// S3, DynamoDB and CloudWatch all bill TimedStorage-ByteHrs). With `one_account`,
/// every tag value sits in one account (`value % 3`) and one service (`value % 2`),
/// whatever the usage type: the common shape of a workload per account.
fn bill(one_account: bool) -> impl Strategy<Value = Vec<Cell>> {
    proptest::collection::btree_map(
        (0u8..3, 0u8..3, 0u8..3, 0u8..4, 0u8..2),
        (1u32..100_000, 0u32..1_000_000),
        1..40,
    )
    .prop_map(move |cells| {
        let mut out: BTreeMap<_, (f64, f64)> = BTreeMap::new();
        for ((d, u, a, t, s), (cost, quantity)) in cells {
            let account = if one_account { t % 3 } else { a };
            let service = match (one_account, u == 2 && s == 1) {
                (true, _) if t % 2 == 1 => "Amazon S3",
                (false, true) => "Amazon S3",
                _ => "Amazon Bedrock",
            };
            let key = (
                d,
                service.to_string(),
                format!("USE1-kind{u}"),
                format!("{:012}", 111_111_111_111u64 * (account as u64 + 1)),
                (t > 0).then(|| format!("w{t}")),
            );
            let e = out.entry(key).or_default();
            e.0 += cost as f64 / 100.0;
            e.1 += quantity as f64 / 1000.0;
        }
        out.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the bill: the table gives back each slice, and what it calls exact is.
    #[test]
    fn the_table_gives_back_its_slices_and_is_exact_where_it_says(
        cells in bill(false),
        joint: bool,
        accounts: bool,
    ) {
        let needs = Needs { accounts };
        let t = table::normalise_for(&pages(&cells, joint), needs).unwrap();
        check(&cells, &t, needs)?;
    }

    /// Each tag value in one account and one service: the joint slices determine every
    /// cell, so the table is the bill, nothing approximated, a row per cell of the bill.
    #[test]
    fn with_each_tag_in_one_account_the_joint_slices_make_the_table_the_bill(
        cells in bill(true),
        accounts: bool,
    ) {
        let needs = Needs { accounts };
        let t = table::normalise_for(&pages(&cells, true), needs).unwrap();
        check(&cells, &t, needs)?;
        prop_assert_eq!(t.approximated_cost, 0.0);
        let distinct: BTreeSet<_> = cells
            .iter()
            .map(|c| (c.0 .0, c.0 .1.clone(), c.0 .2.clone(), accounts.then(|| c.0 .3.clone()), c.0 .4.clone()))
            .collect();
        prop_assert_eq!(t.usage_rows, distinct.len());
    }
}

#[test]
fn a_tag_value_in_two_accounts_beside_untagged_spend_in_both_is_flagged() {
    let acct = |n: u64| format!("{:012}", 111_111_111_111u64 * n);
    let cell = |kind: u8, a: u64, t: Option<&str>, cost: f64| -> Cell {
        (
            (
                0,
                "Amazon Bedrock".into(),
                format!("USE1-kind{kind}"),
                acct(a),
                t.map(str::to_string),
            ),
            (cost, cost),
        )
    };
    // One usage type, w1 and untagged spend each in both accounts: the joint's amounts
    // are the usage type's own, so the cell is the bill's.
    let cells = vec![
        cell(0, 1, Some("w1"), 10.0),
        cell(0, 2, Some("w1"), 30.0),
        cell(0, 1, None, 5.0),
        cell(0, 2, None, 7.0),
    ];
    let t = table::normalise_for(&pages(&cells, true), Needs::ALL).unwrap();
    assert_eq!((t.approximated_cost, t.usage_rows), (0.0, 4));
    check(&cells, &t, Needs::ALL).unwrap();
    // Two usage types the same way: each pair's amount is shared between them, and no
    // slice says how (a cycle in each, and each pair in both): flagged, split in
    // proportion along the pairs, every slice given back.
    let mut both = cells.clone();
    both.extend([
        cell(1, 1, Some("w1"), 1.0),
        cell(1, 2, Some("w1"), 2.0),
        cell(1, 1, None, 3.0),
        cell(1, 2, None, 4.0),
    ]);
    let t = table::normalise_for(&pages(&both, true), Needs::ALL).unwrap();
    assert!(
        (t.approximated_cost - 62.0).abs() < 1e-9,
        "{}",
        t.approximated_cost
    );
    check(&both, &t, Needs::ALL).unwrap();
    // A usage type whose service another bills too (S3's and DynamoDB's
    // TimedStorage-ByteHrs), w1 and w2 each with spend in both services that day: a
    // cycle within the usage type, but w2's S3 amount is all in another usage type, so
    // the joint's amounts settle the shared one.
    let in_service = |kind: u8, service: &str, t: &str, cost: f64| -> Cell {
        (
            (
                0,
                service.into(),
                format!("USE1-kind{kind}"),
                acct(1),
                Some(t.into()),
            ),
            (cost, cost),
        )
    };
    let cells = vec![
        in_service(0, "Amazon S3", "w1", 4.0),
        in_service(0, "Amazon DynamoDB", "w1", 6.0),
        in_service(0, "Amazon DynamoDB", "w2", 5.0),
        in_service(1, "Amazon S3", "w1", 2.0),
        in_service(2, "Amazon DynamoDB", "w2", 1.0),
        in_service(3, "Amazon S3", "w2", 0.5),
    ];
    let t = table::normalise_for(&pages(&cells, true), Needs::ALL).unwrap();
    assert_eq!((t.approximated_cost, t.usage_rows), (0.0, 6));
    check(&cells, &t, Needs::ALL).unwrap();
    // Each tag value in one account: exact, a row per cell.
    let cells = vec![
        cell(0, 1, Some("w1"), 10.0),
        cell(0, 2, Some("w2"), 30.0),
        cell(0, 2, None, 7.0),
    ];
    let t = table::normalise_for(&pages(&cells, true), Needs::ALL).unwrap();
    assert_eq!((t.approximated_cost, t.usage_rows), (0.0, 3));
    // Without the joint slice, the same bill is a product: flagged.
    let t = table::normalise_for(&pages(&cells, false), Needs::ALL).unwrap();
    assert_eq!(t.approximated_cost, 47.0);
    // And when no rule names an account, no split between accounts is needed at all.
    let t = table::normalise_for(&pages(&cells, false), Needs { accounts: false }).unwrap();
    assert_eq!((t.approximated_cost, t.usage_rows), (0.0, 3));
}
