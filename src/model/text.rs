//! Text for people: word-wrapping, and the short one-line forms error messages take
//! (responses and server replies hold account ids, tag values and worse, so a message
//! quotes only enough to find the spot).

/// The longest excerpt of a response an error may quote.
pub(crate) const EXCERPT_CHARS: usize = 160;

/// `text` with every run of white space (newlines included) folded to one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The innermost cause of `err`, on one line and cut short: what actually went wrong,
/// without the wrappers' generic words ("service error: unhandled error: ...").
pub fn root_cause(err: &dyn std::error::Error) -> String {
    let mut deepest = err;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    cap(&one_line(&deepest.to_string()), 3 * EXCERPT_CHARS)
}

/// `n` and its noun: "1 award", "3 awards" (`many` for every count but one).
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` cut to at most `max` characters, with "…" when cut.
pub fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// `text` on one line, cut to [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(text: &str) -> String {
    cap(&one_line(text), EXCERPT_CHARS)
}

/// An error and its sources as one line of their Display texts, never their Debug dumps
/// (the SDK's Debug of a response error carries the whole raw body), cut to a few
/// hundred characters.
pub(crate) fn error_line(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    cap(&one_line(&parts.join(": ")), 3 * EXCERPT_CHARS)
}

/// Word-wraps `text` to `width`, continuation lines indented by two spaces.
pub(crate) fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "  ".to_string();
        }
        if !line.is_empty() && line != "  " {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `names` quoted, the first `shown` of them, and how many more: `"a", "b", "c" and 1,997
/// more`. Keeps a message about many things one line long.
pub fn listed(names: &[&str], shown: usize) -> String {
    let mut out: Vec<String> = names.iter().take(shown).map(|n| format!("{n:?}")).collect();
    let more = names.len().saturating_sub(shown);
    if more > 0 {
        let last = format!("{} more", thousands(more as u64));
        return format!("{} and {last}", out.join(", "));
    }
    match out.len() {
        0 => String::new(),
        1 => out.remove(0),
        _ => {
            let last = out.pop().unwrap_or_default();
            format!("{} and {last}", out.join(", "))
        }
    }
}

/// 1997 as "1,997".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A large count in a few characters: "950", "12.5K", "1.75M", "3.20B".
pub fn short_count(v: f64) -> String {
    let v = v.max(0.0);
    for (size, unit) in [(1e9, "B"), (1e6, "M"), (1e3, "K")] {
        if v >= size {
            let x = v / size;
            return if x >= 100.0 {
                format!("{x:.0}{unit}")
            } else if x >= 10.0 {
                format!("{x:.1}{unit}")
            } else {
                format!("{x:.2}{unit}")
            };
        }
    }
    format!("{v:.0}")
}

/// `text` with its first letter in upper case, to open a sentence.
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The days `[from, to)` in words: "2026-11-11" for one, "2026-11-11 to 2026-11-19 (9
/// days)" for more.
pub fn days(from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    let n = (to - from).num_days();
    match to.pred_opt() {
        Some(last) if n > 1 => format!("{from} to {last} ({n} days)"),
        _ => from.to_string(),
    }
}

/// Runs of days, each `[from, to)`, in words: the first `shown` and how many more.
pub fn day_runs(runs: &[(chrono::NaiveDate, chrono::NaiveDate)], shown: usize) -> String {
    let named: Vec<String> = runs.iter().take(shown).map(|(f, t)| days(*f, *t)).collect();
    let more = runs.len().saturating_sub(shown);
    if more > 0 {
        format!("{} and {} more", named.join(", "), thousands(more as u64))
    } else {
        named.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_fits_width() {
        let text = "word ".repeat(40);
        for line in wrap(&text, 20).lines() {
            assert!(line.chars().count() <= 20, "{line:?}");
        }
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        let long = format!("a\nb {}", "x".repeat(10_000));
        let e = excerpt(&long);
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        assert!(!e.contains('\n'));
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn counts_name_their_noun() {
        assert_eq!(count(1u64, "query", "queries"), "1 query");
        assert_eq!(count(0u64, "award", "awards"), "0 awards");
    }

    #[test]
    fn cut_text_is_marked_and_short_text_kept() {
        assert_eq!(cap("abcdef", 3), "abc…");
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(excerpt("a\n  b"), "a b");
        assert_eq!(excerpt(&"x".repeat(500)).chars().count(), EXCERPT_CHARS + 1);
    }
}
