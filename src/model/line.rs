//! One line of the bill as a line-item export (CUR 2.0, FOCUS) or Athena states it: what
//! `source::lines` hands to the cost table's fold (`analyse::lines`), a row at a time.
//! Every text is borrowed from the reader's current batch: no row allocates.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// The export formats creditburn reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// AWS Data Exports' Cost and Usage Report 2.0.
    Cur,
    /// FOCUS 1.0 or 1.2 as AWS Data Exports writes it.
    Focus,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Cur => "cur",
            ExportFormat::Focus => "focus",
        }
    }

    /// The column a principal rule reads, when the format has one.
    pub fn principal_column(self) -> Option<&'static str> {
        match self {
            ExportFormat::Cur => Some("line_item_iam_principal"),
            ExportFormat::Focus => None,
        }
    }

    /// The column a resource rule reads.
    pub fn resource_column(self) -> &'static str {
        match self {
            ExportFormat::Cur => "line_item_resource_id",
            ExportFormat::Focus => "ResourceId",
        }
    }
}

/// The record type of a credit line, as Cost Explorer names it too.
pub const CREDIT: &str = "Credit";
/// The record type of a usage line.
pub const USAGE: &str = "Usage";

/// One line item, read.
#[derive(Debug, Clone, Copy)]
pub struct LineItem<'a> {
    /// The UTC day its usage started.
    pub date: NaiveDate,
    pub account: Option<&'a str>,
    pub account_name: Option<&'a str>,
    /// The service as Cost Explorer names it (the product's name).
    pub service: Option<&'a str>,
    pub usage_type: Option<&'a str>,
    /// The line's type as the bill names it (CUR's `line_item_line_item_type`, FOCUS's
    /// `ChargeCategory`): `Usage`, `Credit`, `Tax`, `Refund`, ...; Cost Explorer's
    /// RECORD_TYPE uses the same names for the ones creditburn reads.
    pub record_type: &'a str,
    pub principal: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The value of each tag key the rules use (in `Needs` order), None where unset.
    pub tags: &'a [Option<&'a str>],
    /// The credit a Credit line applies (its description).
    pub credit: Option<&'a str>,
    pub cost: f64,
    pub quantity: f64,
    /// AWS may still change it: the billing period is not invoiced yet.
    pub estimated: bool,
}

/// What a line-item source said beyond Cost Explorer's dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFacts {
    pub format: ExportFormat,
    /// Whether the data had the principal column (CUR 2.0 with
    /// INCLUDE_IAM_PRINCIPAL_DATA) and the resource column (INCLUDE_RESOURCES).
    pub principal_column: bool,
    pub resource_column: bool,
    /// The credits the bill applied, by the credit's name (its Credit lines'
    /// description), day and service, as positive dollars.
    pub applied_credits: BTreeMap<String, BTreeMap<NaiveDate, BTreeMap<String, f64>>>,
    /// Line items read, and the table rows they made.
    pub line_items: u64,
}
