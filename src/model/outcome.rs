//! How a run ended, as the daemon remembers it and `/health` and `/metrics` show it.

/// How a run ended. Stored and shown as `ok` or `failed: <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(String),
}

impl Outcome {
    /// Reads the stored form back.
    pub fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::Ok,
            other => Outcome::Failed(other.strip_prefix("failed: ").unwrap_or(other).to_string()),
        }
    }

    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_reads_back() {
        for o in [Outcome::Ok, Outcome::Failed("exit status 75".into())] {
            assert_eq!(Outcome::parse(&o.to_string()), o);
        }
    }
}
