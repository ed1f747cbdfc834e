//! `creditburn export`: the day-by-day series behind the report (or the tokens), as CSV
//! or Parquet, for finance's own sheet. The columns are a stable contract (README).

use std::path::Path;

use polars::prelude::{Column, DataFrame, Int32Chunked, IntoColumn, PolarsResult};
use polars_io::SerWriter as _;

use super::load::prepare_with_table;
use super::*;
use crate::analyse::export::{SeriesRow, TokenRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportTable {
    /// One row per day per award and workload: covered spend, consumed, remaining, and
    /// the forecast's P10/P50/P90 up to the award's expiry.
    Series,
    /// One row per day, workload and model: tokens by kind and spend.
    Tokens,
}

pub(super) fn export(
    common: &Common,
    format: ExportFormat,
    which: ExportTable,
    out: &Path,
) -> anyhow::Result<()> {
    let (config, report, table) = prepare_with_table(common)?;
    let mut df = match which {
        ExportTable::Series => {
            let projector = report
                .projector
                .clone()
                .context("the analysis kept no burn model to export")?;
            series_frame(&crate::analyse::export::series(&report, &projector))
        }
        ExportTable::Tokens => {
            let usage = crate::analyse::analysis::daily_bedrock(&table, &config, report.as_of)
                .context("reading the Bedrock usage by day")?;
            tokens_frame(&crate::analyse::export::tokens(&usage, &config.prices))
        }
    }
    .context("building the export's table")?;
    write(&mut df, format, out)?;
    say!(
        "wrote {} to {}",
        count(df.height() as u64, "row", "rows"),
        out.display()
    );
    Ok(())
}

fn dates(name: &str, days: impl Iterator<Item = NaiveDate>) -> Column {
    let days: Vec<i32> = days.map(crate::analyse::table::epoch_days).collect();
    Int32Chunked::from_vec(name.into(), days)
        .into_date()
        .into_column()
}

fn series_frame(rows: &[SeriesRow]) -> PolarsResult<DataFrame> {
    let f = |get: fn(&SeriesRow) -> f64| rows.iter().map(get).collect::<Vec<f64>>();
    let o = |get: fn(&SeriesRow) -> Option<f64>| rows.iter().map(get).collect::<Vec<Option<f64>>>();
    DataFrame::new(
        rows.len(),
        vec![
            dates("date", rows.iter().map(|r| r.date)),
            Column::new(
                "award".into(),
                rows.iter().map(|r| r.award.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "workload".into(),
                rows.iter().map(|r| r.workload.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("covered_spend".into(), o(|r| r.covered_spend)),
            Column::new("consumed_to_date".into(), f(|r| r.consumed_to_date)),
            Column::new("remaining".into(), f(|r| r.remaining)),
            Column::new(
                "actual".into(),
                rows.iter().map(|r| r.actual).collect::<Vec<_>>(),
            ),
            Column::new("p10".into(), o(|r| r.p10)),
            Column::new("p50".into(), o(|r| r.p50)),
            Column::new("p90".into(), o(|r| r.p90)),
            Column::new(
                "estimated".into(),
                rows.iter().map(|r| r.estimated).collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                rows.iter().map(|r| r.status).collect::<Vec<_>>(),
            ),
        ],
    )
}

fn tokens_frame(rows: &[TokenRow]) -> PolarsResult<DataFrame> {
    let o = |get: fn(&TokenRow) -> Option<f64>| rows.iter().map(get).collect::<Vec<Option<f64>>>();
    DataFrame::new(
        rows.len(),
        vec![
            dates("date", rows.iter().map(|r| r.date)),
            Column::new(
                "workload".into(),
                rows.iter().map(|r| r.workload.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "model".into(),
                rows.iter().map(|r| r.model.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("input_tokens".into(), o(|r| r.input_tokens)),
            Column::new("output_tokens".into(), o(|r| r.output_tokens)),
            Column::new("cache_read_tokens".into(), o(|r| r.cache_read_tokens)),
            Column::new("cache_write_tokens".into(), o(|r| r.cache_write_tokens)),
            Column::new(
                "cache_write_1h_tokens".into(),
                o(|r| r.cache_write_1h_tokens),
            ),
            Column::new(
                "spend".into(),
                rows.iter().map(|r| r.spend).collect::<Vec<f64>>(),
            ),
        ],
    )
}

/// Writes `df` as `format` to `out`, whole.
fn write(df: &mut DataFrame, format: ExportFormat, out: &Path) -> anyhow::Result<()> {
    write_whole(out, |file| match format {
        ExportFormat::Csv => polars_io::csv::write::CsvWriter::new(file)
            .include_header(true)
            .finish(df)
            .map_err(|e| e.to_string()),
        ExportFormat::Parquet => polars_io::parquet::write::ParquetWriter::new(file)
            .finish(df)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    })?;
    Ok(())
}
