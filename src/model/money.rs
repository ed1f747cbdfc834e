//! Money: the one formatting of dollars (`$12,345.67`, and whole dollars for narrow
//! columns) and the rounding to cents every figure in the JSON goes through.

/// Money serialised as a JSON number rounded to cents.
pub fn cents<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round2(*v))
}

/// Money or null.
pub fn cents_option<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_f64(round2(*v)),
        None => s.serialize_none(),
    }
}

pub(crate) fn cents_pair<S: serde::Serializer>(v: &(f64, f64), s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut t = s.serialize_tuple(2)?;
    t.serialize_element(&round2(v.0))?;
    t.serialize_element(&round2(v.1))?;
    t.end()
}

pub(crate) fn round2(v: f64) -> f64 {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 {
        0.0 // never "-0.0"
    } else {
        r
    }
}

/// "$12,345.67"; "n/a" for a value that is not a finite number (never a plausible
/// "$0.00").
pub fn money(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let cents = (v.abs() * 100.0).round() as u64;
    let (whole, frac) = (cents / 100, cents % 100);
    let grouped = crate::model::text::thousands(whole);
    let sign = if v < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${grouped}.{frac:02}")
}

/// "$12,346": whole dollars, grouped as [`money`] groups them, for the table's narrow
/// columns (the sentences under the table give the cents).
pub fn dollars(v: f64) -> String {
    let cents = money(v.round());
    cents.trim_end_matches(".00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(1234567.891), "$1,234,567.89");
        assert_eq!(money(-12.5), "-$12.50");
        assert_eq!(money(999.999), "$1,000.00");
        assert_eq!(money(f64::NAN), "n/a");
        assert_eq!(money(f64::INFINITY), "n/a");
        assert_eq!(dollars(6356.42), "$6,356");
        assert_eq!(dollars(25_000.0), "$25,000");
        assert_eq!(dollars(-0.004), "$0");
        assert_eq!(dollars(-1234.5), "-$1,235");
    }
}
