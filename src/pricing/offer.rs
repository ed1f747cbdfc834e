//! The AWS Price List as a price table, offline: the bulk offer files
//! (`.../offers/v1.0/aws/<Offer>/current/<region>/index.json`) and the Query API's
//! answers (`aws pricing get-products`: `{"FormatVersion", "PriceList": [...]}`), for the
//! three offers that hold Bedrock (AmazonBedrock, AmazonBedrockFoundationModels,
//! AmazonBedrockService). Pure: the shell reads the files.
//!
//! Each product's `usagetype` is read as the bill reads it (`usage_type::parse`, with
//! its `servicename` as the service), so a price is keyed exactly as the bill names
//! the line. Units are normalised here, once: the AmazonBedrock and
//! AmazonBedrockService offers quote per "1K tokens"; AmazonBedrockFoundationModels per
//! "1M tokens" in its bulk files and per "Units" (a million tokens: "Million Input
//! Tokens") in its Query API answers. A unit that is none of these (hours, images,
//! TPM reservations) is not a token price and is skipped, counted by reason.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::{Key, Price, PriceTable, Unit};
use crate::model::usage_type::{self, TokenKind};

/// The offer whose "Units" are a million tokens.
const FOUNDATION_MODELS: &str = "AmazonBedrockFoundationModels";

/// What an import made of its files.
#[derive(Debug, Default)]
pub struct Imported {
    pub table: PriceTable,
    /// Products read, over all files.
    pub products: usize,
    /// Products skipped, by why.
    pub skipped: BTreeMap<String, usize>,
    /// Two products that price the same key differently: the first is kept.
    pub conflicts: Vec<String>,
}

/// A file the import cannot read as an offer.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct OfferError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    attributes: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: BTreeMap<String, Dimension>,
}

#[derive(Deserialize)]
struct Dimension {
    #[serde(default)]
    unit: String,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: BTreeMap<String, String>,
    #[serde(rename = "beginRange")]
    begin_range: Option<String>,
}

#[derive(Deserialize)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, BTreeMap<String, Term>>,
}

/// A bulk offer file.
#[derive(Deserialize)]
struct Bulk {
    #[serde(rename = "offerCode")]
    offer_code: Option<String>,
    version: Option<String>,
    products: BTreeMap<String, Product>,
    terms: Terms,
}

/// One entry of a Query API answer: its terms are keyed by term code alone.
#[derive(Deserialize)]
struct Entry {
    product: Product,
    #[serde(rename = "serviceCode")]
    service_code: Option<String>,
    version: Option<String>,
    terms: EntryTerms,
}

#[derive(Deserialize)]
struct EntryTerms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, Term>,
}

/// One priced product, whatever file it came from.
struct Offered<'a> {
    offer: &'a str,
    version: &'a str,
    attributes: &'a BTreeMap<String, Value>,
    terms: Option<&'a BTreeMap<String, Term>>,
}

/// Imports every file (its name, for messages and sources; its bytes). `checked` is the
/// day the import runs: what each price's `checked` says.
pub fn import(files: &[(String, Vec<u8>)], checked: NaiveDate) -> Result<Imported, OfferError> {
    let mut out = Imported::default();
    for (file, bytes) in files {
        let fail = |message: String| OfferError {
            file: file.clone(),
            message,
        };
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| fail(format!("is not JSON ({e})")))?;
        if json.get("products").is_some() {
            let bulk: Bulk = serde_json::from_value(json)
                .map_err(|e| fail(format!("is not an AWS Price List offer file ({e})")))?;
            let offer = bulk.offer_code.unwrap_or_default();
            let version = bulk.version.unwrap_or_default();
            for (sku, p) in &bulk.products {
                read(
                    &mut out,
                    file,
                    Offered {
                        offer: &offer,
                        version: &version,
                        attributes: &p.attributes,
                        terms: bulk.terms.on_demand.get(sku),
                    },
                    checked,
                );
            }
        } else if let Some(list) = json.get("PriceList").and_then(Value::as_array) {
            for (i, item) in list.iter().enumerate() {
                // The CLI prints each entry as a JSON string; SDKs may decode them.
                let parsed = match item {
                    Value::String(s) => serde_json::from_str::<Entry>(s),
                    other => serde_json::from_value::<Entry>(other.clone()),
                }
                .map_err(|e| fail(format!("PriceList[{i}] is not a price list entry ({e})")))?;
                let offer = parsed.service_code.clone().unwrap_or_default();
                let version = parsed.version.clone().unwrap_or_default();
                read(
                    &mut out,
                    file,
                    Offered {
                        offer: &offer,
                        version: &version,
                        attributes: &parsed.product.attributes,
                        terms: Some(&parsed.terms.on_demand),
                    },
                    checked,
                );
            }
        } else {
            return Err(fail(
                "is neither an offer file (with products and terms) nor a Query API answer (with PriceList); download .../offers/v1.0/aws/AmazonBedrock/current/<region>/index.json, or save `aws pricing get-products` output".into(),
            ));
        }
    }
    Ok(out)
}

fn skip(out: &mut Imported, why: &str) {
    *out.skipped.entry(why.to_string()).or_default() += 1;
}

/// Reads one product into `out`, or counts why not.
fn read(out: &mut Imported, file: &str, p: Offered, checked: NaiveDate) {
    out.products += 1;
    let attr = |k: &str| {
        p.attributes
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let offer = if p.offer.is_empty() {
        attr("servicecode")
    } else {
        p.offer
    };
    let Some(u) = usage_type::parse(attr("servicename"), attr("usagetype")) else {
        return skip(out, "not a Bedrock service");
    };
    if !TokenKind::TOKENS.contains(&u.token_kind) {
        return skip(
            out,
            match u.token_kind {
                TokenKind::ModelUnits => "provisioned throughput (model-unit hours)",
                _ => "not a token price the bill's usage types name (images, storage, reservations, ...)",
            },
        );
    }
    let Some(region) = u.region.clone() else {
        return skip(out, "usage type without a region code");
    };
    // One on-demand term with one dimension: a tiered price is not one number.
    let dimensions: Vec<&Dimension> = p
        .terms
        .into_iter()
        .flat_map(|t| t.values())
        .flat_map(|t| t.price_dimensions.values())
        .collect();
    let [d] = dimensions.as_slice() else {
        return skip(
            out,
            if dimensions.is_empty() {
                "no on-demand price"
            } else {
                "more than one price dimension (tiered)"
            },
        );
    };
    if d.begin_range.as_deref().is_some_and(|b| b != "0") {
        return skip(out, "more than one price dimension (tiered)");
    }
    let unit = match d.unit.as_str() {
        "1K tokens" => Unit::Thousand,
        "1M tokens" => Unit::Million,
        "Units" if offer == FOUNDATION_MODELS => Unit::Million,
        _ => return skip(out, "a unit that is not tokens"),
    };
    let Some(usd) = d
        .price_per_unit
        .get("USD")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    else {
        return skip(out, "no price in USD");
    };
    let per_million = usd * 1e6 / unit.tokens();
    if per_million > super::MAX_PER_MILLION {
        return skip(out, "a price above the table's bound");
    }
    let key = Key {
        bill_name: u.bill_name.clone(),
        region,
        kind: u.token_kind,
        tier: u.tier,
        route: u.route,
    };
    let price = Price {
        per_million,
        unit,
        source: format!(
            "AWS Price List, {offer} {}, version {} (imported from {})",
            attr("regionCode"),
            p.version,
            file.rsplit('/').next().unwrap_or(file)
        ),
        checked,
    };
    match out.table.price(&key) {
        Some(had) if (had.per_million - per_million).abs() > 1e-9 * per_million.max(1.0) => {
            out.conflicts.push(format!(
                "{} {} {} {} {}: {} and {} per 1M tokens ({} kept)",
                key.bill_name,
                key.region,
                key.tier.as_str(),
                key.route.as_str(),
                key.kind.as_str(),
                had.per_million,
                per_million,
                had.per_million
            ));
        }
        Some(_) => skip(
            out,
            "the same price twice (another usage type names it too)",
        ),
        None => out.table.insert(key, price),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_normalised_once_per_offer() {
        let entry = |offer: &str, usagetype: &str, service: &str, unit: &str, usd: &str| {
            serde_json::json!({
                "product": {"attributes": {"usagetype": usagetype, "servicename": service, "regionCode": "us-east-1"}},
                "serviceCode": offer,
                "version": "1",
                "terms": {"OnDemand": {"T": {"priceDimensions": {"R": {"unit": unit, "beginRange": "0", "pricePerUnit": {"USD": usd}}}}}}
            })
        };
        let file = serde_json::json!({"FormatVersion": "aws_v1", "PriceList": [
            entry("AmazonBedrock", "USE1-NovaMicro-input-tokens", "Amazon Bedrock", "1K tokens", "0.0000350000"),
            entry(FOUNDATION_MODELS, "USE1-MP:USE1_InputTokenCount-Units", "Claude 3 Haiku (Amazon Bedrock Edition)", "Units", "0.25"),
            entry(FOUNDATION_MODELS, "USE1-MP:USE1_OutputTokenCount-Units", "Claude 3 Haiku (Amazon Bedrock Edition)", "1M tokens", "1.25"),
            // "Units" outside the FoundationModels offer says nothing of its size.
            entry("AmazonBedrock", "USE1-NovaLite-input-tokens", "Amazon Bedrock", "Units", "0.06"),
            entry("AmazonBedrock", "USE1-NovaMicro-ProvisionedThroughput-NoCommit-ModelUnits", "Amazon Bedrock", "hour", "60.5"),
        ]});
        let got = import(
            &[("f.json".into(), serde_json::to_vec(&file).unwrap())],
            NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        )
        .unwrap();
        let prices: Vec<(String, f64, &str)> = got
            .table
            .prices()
            .map(|(k, p)| {
                (
                    format!("{} {}", k.bill_name, k.kind.as_str()),
                    (p.per_million * 1e6).round() / 1e6,
                    p.unit.as_str(),
                )
            })
            .collect();
        assert_eq!(
            prices,
            [
                (
                    "Claude 3 Haiku (Amazon Bedrock Edition) input".to_string(),
                    0.25,
                    "1M tokens"
                ),
                (
                    "Claude 3 Haiku (Amazon Bedrock Edition) output".to_string(),
                    1.25,
                    "1M tokens"
                ),
                ("NovaMicro input".to_string(), 0.035, "1K tokens"),
            ]
        );
        assert_eq!(got.products, 5);
        assert_eq!(got.skipped.values().sum::<usize>(), 2, "{:?}", got.skipped);
    }

    #[test]
    fn a_file_that_is_no_offer_is_named() {
        let e = import(
            &[("x.json".into(), b"{\"a\": 1}".to_vec())],
            NaiveDate::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.json: is neither an offer file"),
            "{e}"
        );
        let e = import(
            &[("y.json".into(), b"not json".to_vec())],
            NaiveDate::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("y.json: is not JSON"), "{e}");
    }
}
