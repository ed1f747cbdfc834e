//! The burn-down chart of one award: a PNG for the emails (plotters draws into a
//! buffer; the `png` crate encodes it), and the same drawing as inline SVG for the
//! status page (plotters' SVG backend). Pure: figures in, bytes out.
//!
//! The y axis is the balance left. It shows the balance so far (from the daily covered
//! spend), the plan line (the whole amount spent evenly from start to expiry), the
//! forecast's P50 balance path with its P10-P90 band (from the burn model's quantile
//! paths), a tick at each later tranche, a marker where the P50 runs out, a dashed line at today, and the expiry
//! (drawn inside the plot: the x axis runs a little past it). The font is DejaVu Sans, shipped in `assets/` (its licence
//! beside it), so the chart looks the same on every machine.

use std::sync::Once;

use chrono::{Duration, NaiveDate};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::analyse::analysis::AwardStatus;

pub(crate) const WIDTH: u32 = 720;
pub(crate) const HEIGHT: u32 = 360;

/// The digest's chart: the same drawing at two thirds of the size.
pub(crate) const SMALL: Size = Size {
    width: 480,
    height: 240,
    scale: 0.7,
};
const FULL: Size = Size {
    width: WIDTH,
    height: HEIGHT,
    scale: 1.0,
};

/// A chart's size, and how its text, lines and margins scale with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}

impl Size {
    fn px(&self, v: u32) -> u32 {
        ((v as f64 * self.scale).round() as u32).max(1)
    }
}

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Colours, named for the legend in the email.
pub const ACTUAL: RGBColor = RGBColor(31, 90, 170);
pub(crate) const PLAN: RGBColor = RGBColor(140, 140, 140);
pub const PROJECTION: RGBColor = RGBColor(230, 120, 20);
pub const EXPIRY: RGBColor = RGBColor(200, 30, 30);
/// The projected exhaustion marker.
pub const EXHAUSTION: RGBColor = RGBColor(120, 40, 160);
/// A tranche granted after the start.
pub const TRANCHE: RGBColor = RGBColor(20, 150, 160);
/// The dashed line at today.
pub const TODAY: RGBColor = RGBColor(40, 150, 90);

fn font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is compiled in; registering it cannot meet a missing file.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The balance left after each day of `award.daily`, starting from the amount.
fn balance(award: &AwardStatus) -> Vec<(i64, f64)> {
    let mut left = award.amount;
    let mut out = vec![(0, award.amount)];
    for (day, spend) in &award.daily {
        left -= spend;
        out.push(((*day - award.start_date).num_days() + 1, left));
    }
    out
}

/// The value of a path (points sorted by x) at `x`: linear between its points, held at
/// its last value after its end.
fn step_at(line: &[(i64, f64)], x: i64) -> f64 {
    let mut prev = line[0];
    for &(px, py) in line {
        if px >= x {
            if px == prev.0 {
                return py;
            }
            return prev.1 + (py - prev.1) * (x - prev.0) as f64 / (px - prev.0) as f64;
        }
        prev = (px, py);
    }
    prev.1
}

/// Draws the burn-down of `award` as of `as_of` as a PNG; None when there is nothing to
/// draw.
pub fn burn_down(award: &AwardStatus, as_of: NaiveDate) -> Option<Vec<u8>> {
    png(award, as_of, FULL)
}

/// The burn-down as a PNG of `size` (the digest's is [`SMALL`]).
pub(crate) fn png(award: &AwardStatus, as_of: NaiveDate, size: Size) -> Option<Vec<u8>> {
    font();
    let mut pixels = vec![255u8; (size.width * size.height * 3) as usize];
    {
        let root =
            BitMapBackend::with_buffer(&mut pixels, (size.width, size.height)).into_drawing_area();
        draw(&root, award, as_of, size)?;
    }
    encode(&pixels, size)
}

/// The burn-down as an SVG document (for inline use in a page): the same drawing as the
/// PNG, its text in the page's sans-serif.
pub fn burn_down_svg(award: &AwardStatus, as_of: NaiveDate) -> Option<String> {
    // The layout measures text with the font even where the SVG names it only.
    font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, award, as_of, FULL)?;
    }
    Some(svg)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    award: &AwardStatus,
    as_of: NaiveDate,
    size: Size,
) -> Option<()> {
    let span = (award.expiry_date - award.start_date).num_days() + 1;
    if span <= 1 || award.amount <= 0.0 {
        return None;
    }
    let actual = balance(award);
    let (x0, left) = *actual.last()?;
    let lowest = actual.iter().map(|p| p.1).fold(0.0, f64::min);
    // Room past the expiry, so its line is drawn whole rather than on the plot's edge.
    let right = span + (span / 25).max(2);
    let (bottom, top) = (lowest * 1.05 - award.amount * 0.02, award.amount * 1.08);
    let px = |v: u32| size.px(v);
    root.fill(&WHITE).ok()?;
    {
        let start = award.start_date;
        let label_day = |x: &i64| (start + Duration::days(*x)).format("%b %d").to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: balance left", award.id),
                ("sans-serif", px(20)),
            )
            .margin(px(12))
            .x_label_area_size(px(34))
            .y_label_area_size(px(72))
            .build_cartesian_2d(0i64..right, bottom..top)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&label_day)
            .y_label_formatter(&|v| crate::model::money::dollars(*v))
            .label_style(("sans-serif", px(15)))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok()?;
        // The forecast: its P10-P90 band, then its P50 path over it. Each path is the
        // balance left as the forecast has the award pay, from the last day of data.
        if x0 < span && left > 0.0 {
            let x_of = |d: NaiveDate| (d - start).num_days() + 1;
            let path = |q: usize| -> Vec<(i64, f64)> {
                let mut out = vec![(x0, left)];
                out.extend(
                    award.projected_draw[q]
                        .iter()
                        .map(|(d, paid)| (x_of(*d), left - paid))
                        .filter(|(x, _)| *x > x0 && *x <= span),
                );
                // Held flat to expiry once it pays no more.
                if let Some(&(x, v)) = out.last() {
                    if x < span {
                        out.push((span, v));
                    }
                }
                out
            };
            let (slow, middle, fast) = (path(0), path(1), path(2));
            let mut band: Vec<(i64, f64)> = (x0..=span).map(|x| (x, step_at(&slow, x))).collect();
            band.extend((x0..=span).rev().map(|x| (x, step_at(&fast, x))));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    PROJECTION.mix(0.18).filled(),
                )))
                .ok()?
                .label("P10-P90")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], PROJECTION.mix(0.18).filled())
                });
            chart
                .draw_series(LineSeries::new(middle, PROJECTION.stroke_width(px(3))))
                .ok()?
                .label("forecast (P50)")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], PROJECTION.stroke_width(px(3)))
                });
        }
        // Each tranche after the first: a tick down from the top on its date.
        let ticks: Vec<PathElement<(i64, f64)>> = award
            .tranches
            .iter()
            .skip(1)
            .map(|t| {
                let x = (t.date - award.start_date).num_days();
                PathElement::new(
                    vec![(x, top), (x, top - (top - bottom) * 0.12)],
                    TRANCHE.stroke_width(px(3)),
                )
            })
            .collect();
        if !ticks.is_empty() {
            chart
                .draw_series(ticks)
                .ok()?
                .label("tranche granted")
                .legend(|(x, y)| {
                    PathElement::new(
                        vec![(x + 9, y - 6), (x + 9, y + 6)],
                        TRANCHE.stroke_width(px(3)),
                    )
                });
        }
        chart
            .draw_series(LineSeries::new(
                vec![(0, award.amount), (span, 0.0)],
                PLAN.stroke_width(px(2)),
            ))
            .ok()?
            .label("plan")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PLAN.stroke_width(px(2))));
        chart
            .draw_series(LineSeries::new(actual, ACTUAL.stroke_width(px(3))))
            .ok()?
            .label("so far")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], ACTUAL.stroke_width(px(3)))
            });
        chart
            .draw_series(LineSeries::new(
                vec![(0, 0.0), (span, 0.0)],
                BLACK.stroke_width(px(1)),
            ))
            .ok()?;
        // The expiry: the end of its last day.
        chart
            .draw_series(LineSeries::new(
                vec![(span, bottom), (span, top)],
                EXPIRY.stroke_width(px(3)),
            ))
            .ok()?
            .label(format!("expiry {}", award.expiry_date))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], EXPIRY.stroke_width(px(3)))
            });
        // Today, dashed.
        let today = ((as_of - start).num_days() + 1).clamp(0, span);
        let dash = ((top - bottom) / 24.0).max(f64::MIN_POSITIVE);
        let mut y = bottom;
        let mut dashes = Vec::new();
        while y < top {
            dashes.push(PathElement::new(
                vec![(today, y), (today, (y + dash * 0.6).min(top))],
                TODAY.stroke_width(px(2)),
            ));
            y += dash;
        }
        chart
            .draw_series(dashes)
            .ok()?
            .label(format!("today {as_of}"))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], TODAY.stroke_width(px(2)))
            });
        // Where the projection runs out, when that is before the expiry.
        if let Some(day) = award.projected_exhaustion_date {
            let x = (day - start).num_days() + 1;
            if (0..=span).contains(&x) {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (x, 0.0),
                        px(7),
                        EXHAUSTION.filled(),
                    )))
                    .ok()?
                    .label(format!("runs out {day}"))
                    .legend(|(x, y)| Circle::new((x + 9, y), px(5), EXHAUSTION.filled()));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", px(14)))
            .draw()
            .ok()?;
    }
    root.present().ok()?;
    Some(())
}

fn encode(rgb: &[u8], size: Size) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, size.width, size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // A chart is flat colour and text: PNG's per-row filters shrink it to under a
        // third (the demo's alert emails 190 to 55 KB, its digest 545 to 156 KB) for about
        // 6 ms a chart; the best compression would save another tenth at 18 ms.
        encoder.set_compression(png::Compression::Default);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(rgb).ok()?;
    }
    Some(out)
}
