//! Prices: the AWS Price List import on real answers committed in fixtures/pricing, the
//! shipped table against them, `[pricing]` in the config, and the `pricing` and
//! `what-if` commands end to end.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use creditburn::model::usage_type::{Route, Tier, TokenKind};
use creditburn::pricing::offer;
use creditburn::pricing::{Key, PriceTable, Unit};

use crate::support::{creditburn, demo_config, repo};

fn excerpt_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures/pricing"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn import(files: &[PathBuf]) -> offer::Imported {
    let read: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    offer::import(&read, NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()).unwrap()
}

fn key(bill_name: &str, kind: TokenKind, tier: Tier, route: Route) -> Key {
    Key {
        bill_name: bill_name.into(),
        region: "USE1".into(),
        kind,
        tier,
        route,
    }
}

#[test]
fn the_real_price_list_answers_import_with_units_normalised() {
    use Route::*;
    use Tier::*;
    use TokenKind::*;
    let got = import(&excerpt_files());
    let t = &got.table;
    let per_m = |k: Key| {
        let p = t.price(&k).unwrap_or_else(|| panic!("no price for {k:?}"));
        ((p.per_million * 1e6).round() / 1e6, p.unit)
    };
    let sonnet = "Claude Sonnet 4.6 (Amazon Bedrock Edition)";
    // The FoundationModels offer's "Units" are a million tokens: $3.30 per unit stays
    // $3.30 per 1M.
    assert_eq!(
        per_m(key(sonnet, Input, Standard, Regional)),
        (3.3, Unit::Million)
    );
    assert_eq!(
        per_m(key(sonnet, Input, Standard, Global)),
        (3.0, Unit::Million)
    );
    assert_eq!(per_m(key(sonnet, CacheWrite1h, Standard, Regional)).0, 6.6);
    assert_eq!(per_m(key(sonnet, Input, Batch, Global)).0, 1.5);
    assert_eq!(per_m(key(sonnet, Output, Batch, Regional)).0, 8.25);
    // The snake_case family of newer listings.
    let opus = "Claude Opus 4.7 (Amazon Bedrock Edition)";
    assert_eq!(per_m(key(opus, Input, Standard, Regional)).0, 5.5);
    assert_eq!(per_m(key(opus, CacheWrite1h, Standard, Global)).0, 10.0);
    // AmazonBedrock quotes per 1K tokens: $0.000035 is $0.035 per 1M.
    assert_eq!(
        per_m(key("NovaMicro", Input, Standard, Regional)),
        (0.035, Unit::Thousand)
    );
    assert_eq!(per_m(key("NovaMicro", Input, Batch, Regional)).0, 0.0175);
    assert_eq!(
        per_m(key("NovaMicro", CacheRead, Standard, Regional)).0,
        0.00875
    );
    assert_eq!(
        per_m(key("NovaMicro", CacheWrite, Standard, Regional)).0,
        0.0
    );
    // A custom model is a price of its own, never the base model's.
    assert!(t
        .price(&key("NovaMicro-custom-model", Input, Standard, Regional))
        .is_some());
    // Both names of Claude 3.5 Sonnet's batch input price agree: one price, no conflict.
    assert_eq!(
        per_m(key(
            "Claude 3.5 Sonnet (Amazon Bedrock Edition)",
            Input,
            Batch,
            Regional
        ))
        .0,
        1.5
    );
    assert!(got.conflicts.is_empty(), "{:?}", got.conflicts);
    // Provisioned throughput and reserved capacity are not token prices.
    assert!(
        got.skipped
            .get("provisioned throughput (model-unit hours)")
            .is_some_and(|n| *n >= 5),
        "{:?}",
        got.skipped
    );
    let prices: usize = got.table.len();
    let skipped: usize = got.skipped.values().sum();
    assert_eq!(
        got.products,
        prices + skipped + got.conflicts.len(),
        "{:?}",
        got.skipped
    );
    // Every price says where it came from.
    let (_, p) = t.prices().next().unwrap();
    assert!(p.source.starts_with("AWS Price List, "), "{}", p.source);
}

#[test]
fn the_shipped_table_agrees_with_the_real_price_list_where_both_price() {
    let got = import(&excerpt_files());
    let shipped = PriceTable::shipped();
    let mut shared = 0;
    for (k, p) in got.table.prices() {
        if let Some(s) = shipped.price(k) {
            shared += 1;
            assert!(
                (s.per_million - p.per_million).abs() < 1e-9,
                "{k:?}: shipped {} vs the Price List {}",
                s.per_million,
                p.per_million
            );
            assert_eq!(s.unit, p.unit, "{k:?}");
        }
    }
    assert!(shared >= 25, "only {shared} keys in common");
}

#[test]
fn a_bulk_offer_file_reads_as_the_query_answers_do() {
    // The bulk file's layout (products by SKU, terms.OnDemand by SKU then term code),
    // built from the same real entries.
    let mut bulk_files = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in excerpt_files().iter().enumerate() {
        let answer: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let mut products = serde_json::Map::new();
        let mut terms = serde_json::Map::new();
        let mut offer = String::new();
        for entry in answer["PriceList"].as_array().unwrap() {
            let e: serde_json::Value = serde_json::from_str(entry.as_str().unwrap()).unwrap();
            let sku = e["product"]["sku"].as_str().unwrap().to_string();
            offer = e["serviceCode"].as_str().unwrap().to_string();
            products.insert(sku.clone(), e["product"].clone());
            terms.insert(sku, e["terms"]["OnDemand"].clone());
        }
        let bulk = serde_json::json!({
            "formatVersion": "v1.0", "offerCode": offer, "version": "x",
            "products": products, "terms": {"OnDemand": terms},
        });
        let path = dir.path().join(format!("offer-{i}.json"));
        std::fs::write(&path, serde_json::to_vec(&bulk).unwrap()).unwrap();
        bulk_files.push(path);
    }
    let from_bulk = import(&bulk_files);
    let from_answers = import(&excerpt_files());
    let prices = |t: &PriceTable| -> Vec<(Key, f64)> {
        t.prices()
            .map(|(k, p)| (k.clone(), p.per_million))
            .collect()
    };
    assert_eq!(prices(&from_bulk.table), prices(&from_answers.table));
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = creditburn(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pricing_import_writes_a_table_a_config_can_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prices.toml");
    let mut args = vec![
        "pricing",
        "import",
        "--checked",
        "2026-12-05",
        "--out",
        out.to_str().unwrap(),
    ];
    let files: Vec<String> = excerpt_files()
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    args.extend(files.iter().map(String::as_str));
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("token prices imported"), "{err}");
    let table = PriceTable::parse(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(table.len(), 38);
    // Layered over the shipped table, with a discount on top.
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[pricing]\ntable = \"prices.toml\"\n[[pricing.overrides]]\nbill_name = \"NovaPro\"\ndiscount_percent = 20\nsource = \"private pricing addendum\"\nchecked = \"2026-06-01\"\n"),
    )
    .unwrap();
    let (code, shown, err) = run(&["pricing", "show", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("prices.toml over it, 1 override"), "{err}");
    assert!(shown.contains("bill_name = \"NovaMicro-custom-model\""));
    assert!(shown.contains("source = \"private pricing addendum\""));
    // With the negotiated discount priced in, the demo's Nova Pro bill is at list.
    let r = crate::support::report_json(&config, &[]);
    let nova = r["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["models"].as_array().unwrap())
        .find(|m| m["model_id"] == "nova-pro")
        .unwrap();
    assert_eq!(nova["price_check"], "ok", "{nova}");
}

#[test]
fn pricing_import_refuses_what_it_cannot_read_with_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let (code, _, err) = run(&["pricing", "import", missing.to_str().unwrap()]);
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("nope.json: no such file"), "{err}");
    let not_offer = dir.path().join("x.json");
    std::fs::write(&not_offer, "{\"a\": 1}").unwrap();
    let (code, _, err) = run(&["pricing", "import", not_offer.to_str().unwrap()]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("is neither an offer file"), "{err}");
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{\"FormatVersion\": \"aws_v1\", \"PriceList\": []}").unwrap();
    let (code, _, err) = run(&["pricing", "import", empty.to_str().unwrap()]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("hold no Bedrock token price"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

fn demo_with(dir: &Path, extra: &str) -> PathBuf {
    let config = demo_config(dir, &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n{extra}")).unwrap();
    config
}

#[test]
fn pricing_problems_are_config_problems_naming_their_key() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, expect) in [
        ("[pricing]\ntable = \"missing.toml\"\n", "pricing.table: "),
        (
            "[[pricing.overrides]]\nbill_name = \"Nova Pro\"\ndiscount_percent = 10\nsource = \"x\"\nchecked = \"2026-01-01\"\n",
            "pricing.overrides[0]: \"Nova Pro\" matches no price",
        ),
        (
            "[[pricing.overrides]]\nbill_name = \"NovaPro\"\ndiscount = 10\nsource = \"x\"\nchecked = \"2026-01-01\"\n",
            "pricing.overrides[0].discount: is not a key creditburn knows here (it knows: bill_name, regions, tier, route, discount_percent,",
        ),
    ] {
        let config = demo_with(dir.path(), extra);
        let (code, _, err) = run(&["check-config", "--config", config.to_str().unwrap()]);
        assert_eq!(code, 78, "{extra}: {err}");
        assert!(err.contains(expect), "{expect:?} in {err}");
    }
    // A table of one's own with a problem names the file and the row.
    std::fs::write(
        dir.path().join("bad.toml"),
        "format = \"creditburn-prices/1\"\n[[prices]]\nbill_name = \"NovaPro\"\nregions = [\"USE1\"]\nunit = \"1K tokens\"\ninput = -3\nsource = \"x\"\nchecked = \"2026-01-01\"\n",
    )
    .unwrap();
    let config = demo_with(dir.path(), "[pricing]\ntable = \"bad.toml\"\n");
    let (code, _, err) = run(&["report", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("pricing.table: ")
            && err.contains("bad.toml: prices[0].input: -3 is not a price"),
        "{err}"
    );
}

#[test]
fn what_if_prints_every_award_before_and_after_and_refuses_what_names_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let c = config.to_str().unwrap();
    let r = crate::support::report_json(&config, &[]);
    let hint = r["hints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "prompt_caching" && h["workload"] == "support-assistant")
        .unwrap();
    let n = hint["number"].as_u64().unwrap().to_string();
    let (code, out, err) = run(&["what-if", "--config", c, "--hint", &n, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    let awards = w["what_if"]["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 5);
    let poc = awards.iter().find(|a| a["award"] == "poc-support").unwrap();
    // In its workload's view the POC runs out later, by the what-if's P50; but AWS has
    // already drawn it to $0.00 for other spend, so the hint promises no days.
    assert!(hint["runway_days_gained"].is_null(), "{hint}");
    let before: NaiveDate = poc["before"]["exhaustion_date"]["p50"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after: NaiveDate = poc["after"]["exhaustion_date"]["p50"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((after - before).num_days() >= 1, "{before} {after}");
    assert!(
        err.contains("no AWS request made, nothing written"),
        "{err}"
    );
    // Nothing was written: no state folder, no outbox.
    assert!(!dir.path().join("state").exists() && !dir.path().join("outbox").exists());
    let (code, table, _) = run(&[
        "what-if",
        "--config",
        c,
        "--lever",
        "global_routing",
        "--workload",
        "support-assistant",
    ]);
    assert_eq!(code, 0);
    assert!(
        table.contains("poc-support, expires 2026-12-29") && table.contains("out of pocket"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    for (args, expect) in [
        (vec!["--hint", "99"], "--hint 99: the report has"),
        (vec!["--hint", "1"], "pulls work forward"),
        (
            vec!["--lever", "cheaper", "--workload", "platform"],
            "--lever \"cheaper\" is not a lever",
        ),
        (
            vec!["--lever", "batch_inference", "--workload", "nobody"],
            "--workload \"nobody\" is not a workload",
        ),
        (
            vec!["--lever", "batch_inference", "--workload", "platform"],
            "does not apply to platform",
        ),
        (
            vec![
                "--lever",
                "all",
                "--workload",
                "support-assistant",
                "--from",
                "2026-11-02",
            ],
            "--from 2026-11-02 is not after the last day of data (2026-11-20)",
        ),
    ] {
        let mut all = vec!["what-if", "--config", c];
        all.extend(args.iter());
        let (code, _, err) = run(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expect), "{expect:?} in {err}");
    }
}
