//! When the daemon runs: a standard 5-field crontab line, in UTC or an IANA time zone.
//! Pure: instants in, instants out.
//!
//! The cron crate wants 6 or 7 fields (seconds first, and its own day-of-week numbering,
//! 1 = Sunday .. 7 = Saturday), so a crontab line is converted: a `0` seconds field is
//! put in front, and day-of-week numbers in crontab's numbering (0 or 7 = Sunday,
//! 1 = Monday .. 6 = Saturday) are turned into names, which both agree on.
//!
//! Daylight saving: slots are walked in wall-clock time and then placed on the real
//! clock. A slot that falls in the hour skipped in spring runs at the first minute after
//! the gap (it is not skipped); a slot in the hour repeated in autumn runs once, at its
//! first occurrence (it is not doubled).

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The line as written, for messages.
    pub line: String,
    pub zone: Tz,
    cron: cron::Schedule,
}

const DAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Crontab's day-of-week field with numbers turned into names (`1-5` -> `MON-FRI`,
/// `0,6` -> `SUN,SAT`, `5-7` -> `FRI-SAT,SUN`).
fn day_names(field: &str) -> Result<String, String> {
    let name = |n: &str| -> Result<&'static str, String> {
        match n.parse::<usize>() {
            Ok(i) if i <= 7 => Ok(DAYS[i]),
            Ok(_) => Err(format!("day of week {n} is outside 0-7")),
            Err(_) => Ok(""), // already a name, or `*`: kept as written
        }
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let converted = match range.split_once('-') {
            Some((a, b)) => {
                let (na, nb) = (name(a)?, name(b)?);
                match (na, nb) {
                    ("", _) | (_, "") => range.to_string(),
                    // A range ending on crontab's 7 (Sunday) would wrap in names.
                    (a, "SUN") if b == "7" && a != "SUN" => format!("{a}-SAT,SUN"),
                    (a, b) => format!("{a}-{b}"),
                }
            }
            None => match name(range)? {
                "" => range.to_string(),
                n => n.to_string(),
            },
        };
        out.push(match step {
            Some(s) => format!("{converted}/{s}"),
            None => converted,
        });
    }
    Ok(out.join(","))
}

/// Parses a crontab line (`minute hour day-of-month month day-of-week`, or `@hourly`,
/// `@daily`, `@weekly`, `@monthly`) and an optional IANA zone (default UTC).
pub fn parse(line: &str, zone: Option<&str>) -> Result<Schedule, String> {
    let expanded = match line.trim() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "{line:?} has {} fields; a crontab line has 5: minute hour day-of-month month day-of-week",
            fields.len()
        ));
    }
    for (field, (what, low, high)) in fields.iter().zip([
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
    ]) {
        check_numbers(field, what, low, high)?;
    }
    let dow = day_names(fields[4])?;
    let six = format!(
        "0 {} {} {} {} {dow}",
        fields[0], fields[1], fields[2], fields[3]
    );
    // The cron crate's own message shows its six-field form; only its gist is kept.
    let cron = cron::Schedule::from_str(&six).map_err(|e| {
        let gist = e.to_string();
        let gist = gist.lines().last().unwrap_or_default().trim();
        format!("{line:?} is not a crontab line ({gist}); write minute hour day-of-month month day-of-week, like \"15 7 * * *\"")
    })?;
    let zone = match zone {
        None => Tz::UTC,
        Some(z) => z
            .parse::<Tz>()
            .map_err(|_| format!("{z:?} is not an IANA time zone (like \"Europe/Berlin\")"))?,
    };
    let schedule = Schedule {
        line: line.to_string(),
        zone,
        cron,
    };
    // A line that names no real day (30 February) would leave the daemon nothing to do.
    let from = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    if schedule.next_after(from).is_none() {
        return Err(format!(
            "{line:?} never fires (no day matches it); check the day of month and the month"
        ));
    }
    Ok(schedule)
}

/// Each number in a crontab field (`5`, `1-5`, `*/15`, `1,15`) within `low..=high`.
fn check_numbers(field: &str, what: &str, low: u32, high: u32) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step {
            if !s.parse::<u32>().is_ok_and(|s| s > 0) {
                return Err(format!("{what} step {s:?} is not a whole number above 0"));
            }
        }
        for n in range.split('-').filter(|n| *n != "*" && !n.is_empty()) {
            match n.parse::<u32>() {
                Ok(v) if (low..=high).contains(&v) => {}
                Ok(v) => return Err(format!("{what} {v} is outside {low}-{high}")),
                // Names (JAN, MON) are the cron crate's to read.
                Err(_) => {}
            }
        }
    }
    Ok(())
}

impl Schedule {
    /// Places a wall-clock slot on the real clock (see the module comment for DST).
    fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut probe = local;
        for _ in 0..(24 * 60) {
            if let Some(t) = self.zone.from_local_datetime(&probe).earliest() {
                return Some(t.with_timezone(&Utc));
            }
            probe += Duration::minutes(1);
        }
        None
    }

    /// The first run strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Start a little before, in wall-clock time, so a slot in a repeated hour is seen.
        let local = after.with_timezone(&self.zone).naive_local() - Duration::hours(3);
        self.cron
            .after(&Utc.from_utc_datetime(&local))
            .take(10_000)
            .filter_map(|slot| self.instant(slot.naive_utc()))
            .find(|t| *t > after)
    }

    /// Whether a run was due in `(since, now]`: the catch-up after downtime.
    pub(crate) fn missed(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(since).is_some_and(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The next `n` runs after `from`, as RFC 3339 UTC.
    fn runs(s: &Schedule, from: &str, n: usize) -> Vec<String> {
        let mut t = at(from);
        (0..n)
            .map(|_| {
                t = s.next_after(t).unwrap();
                t.to_rfc3339()
            })
            .collect()
    }

    #[test]
    fn day_of_week_numbering_is_crontabs() {
        // 2026-11-23 is a Monday. "1-5" in crontab is Monday to Friday.
        let s = parse("0 9 * * 1-5", None).unwrap();
        assert_eq!(
            runs(&s, "2026-11-21T00:00:00Z", 3),
            [
                "2026-11-23T09:00:00+00:00",
                "2026-11-24T09:00:00+00:00",
                "2026-11-25T09:00:00+00:00"
            ]
        );
        // 0 and 7 are both Sunday (2026-11-22).
        for line in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN", "@weekly"] {
            let s = parse(line, None).unwrap();
            assert!(
                runs(&s, "2026-11-21T00:00:00Z", 1)[0].starts_with("2026-11-22"),
                "{line}"
            );
        }
        assert_eq!(day_names("5-7").unwrap(), "FRI-SAT,SUN");
        assert_eq!(day_names("0,6").unwrap(), "SUN,SAT");
        assert_eq!(day_names("*/2").unwrap(), "*/2");
    }

    #[test]
    fn bad_lines() {
        assert!(parse("0 9 * *", None).unwrap_err().contains("has 4 fields"));
        assert!(parse("0 9 * * 8", None)
            .unwrap_err()
            .contains("outside 0-7"));
        assert!(parse("61 9 * * *", None).is_err());
        assert!(parse("0 9 * * *", Some("Mars/Olympus"))
            .unwrap_err()
            .contains("IANA"));
    }

    #[test]
    fn spring_forward_runs_once_after_the_gap() {
        // Berlin skips 02:00-03:00 on 2026-03-29. A 02:30 run moves to 03:00 CEST (01:00Z).
        let s = parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            runs(&s, "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T01:30:00+00:00",
                "2026-03-29T01:00:00+00:00",
                "2026-03-30T00:30:00+00:00"
            ]
        );
    }

    #[test]
    fn fall_back_runs_once_not_twice() {
        // Berlin repeats 02:00-03:00 on 2026-10-25. A 02:30 run happens at the first 02:30
        // (CEST, 00:30Z), not again at the second (CET, 01:30Z).
        let s = parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            runs(&s, "2026-10-23T12:00:00Z", 3),
            [
                "2026-10-24T00:30:00+00:00",
                "2026-10-25T00:30:00+00:00",
                "2026-10-26T01:30:00+00:00"
            ]
        );
        // Every 30 minutes through the repeated hour: each wall-clock slot once.
        let s = parse("*/30 * * * *", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            runs(&s, "2026-10-24T23:45:00Z", 5),
            [
                "2026-10-25T00:00:00+00:00", // 02:00 CEST
                "2026-10-25T00:30:00+00:00", // 02:30 CEST
                "2026-10-25T02:00:00+00:00", // 03:00 CET (02:00 and 02:30 CET are repeats)
                "2026-10-25T02:30:00+00:00",
                "2026-10-25T03:00:00+00:00",
            ]
        );
    }

    #[test]
    fn catch_up_after_downtime() {
        let s = parse("15 7 * * *", None).unwrap();
        // Last run yesterday 07:15; down until 09:00 today: one run was missed.
        assert!(s.missed(at("2026-11-21T07:15:00Z"), at("2026-11-22T09:00:00Z")));
        // Last run today 07:15: nothing missed at 09:00.
        assert!(!s.missed(at("2026-11-22T07:15:00Z"), at("2026-11-22T09:00:00Z")));
    }
}
