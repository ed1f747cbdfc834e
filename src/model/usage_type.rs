//! Reading Bedrock usage-type strings: which model, which kind of token, batch or not.
//!
//! Usage types look like `USE1-Claude4.6Sonnet-input-tokens`,
//! `USW2-Claude4.6Sonnet-cache-read-input-token-count`, `USE1-NovaLite-output-tokens`,
//! or for Marketplace models `USW2-MP:USW2_InputTokenCount-Units` (the model is then the
//! service name). New shapes keep appearing: anything not understood is kept with token
//! kind `other` and listed in the report, never dropped.

/// The Cost Explorer SERVICE names Bedrock usage is billed under: Amazon's own models
/// (Nova, Titan) as "Amazon Bedrock", Anthropic's Claude as "Amazon Bedrock Service"
/// (DOMAIN.md). Third-party Marketplace listings carry [`BEDROCK_EDITION_SUFFIX`].
pub(crate) const BEDROCK_SERVICES: [&str; 2] = ["Amazon Bedrock", "Amazon Bedrock Service"];

/// The suffix AWS gives third-party models sold through Marketplace on Bedrock.
pub(crate) const BEDROCK_EDITION_SUFFIX: &str = "(Amazon Bedrock Edition)";

/// Whether `service` is one Bedrock is billed under, Marketplace listings included.
pub(crate) fn is_bedrock_service(service: &str) -> bool {
    BEDROCK_SERVICES.contains(&service) || service.ends_with(BEDROCK_EDITION_SUFFIX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Other,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Input => "input",
            TokenKind::Output => "output",
            TokenKind::CacheRead => "cache_read",
            TokenKind::CacheWrite => "cache_write",
            TokenKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockUsage {
    pub model: String,
    pub token_kind: TokenKind,
    pub batch: bool,
    pub marketplace: bool,
}

/// Whether a service line is a Bedrock model billed through AWS Marketplace.
pub(crate) fn is_marketplace(service: &str, usage_type: &str) -> bool {
    service.ends_with(BEDROCK_EDITION_SUFFIX) || usage_type.contains("MP:")
}

/// Reads a Bedrock line; None for services that are not Bedrock.
pub fn parse(service: &str, usage_type: &str) -> Option<BedrockUsage> {
    if !is_bedrock_service(service) {
        return None;
    }
    let marketplace = service.ends_with(BEDROCK_EDITION_SUFFIX);
    let rest = strip_region(usage_type);
    let lower = rest.to_ascii_lowercase();
    let batch = lower.contains("batch");
    if marketplace {
        let model = service
            .trim_end_matches(BEDROCK_EDITION_SUFFIX)
            .trim()
            .to_string();
        let token_kind = if lower.contains("inputtoken") {
            TokenKind::Input
        } else if lower.contains("outputtoken") {
            TokenKind::Output
        } else {
            TokenKind::Other
        };
        return Some(BedrockUsage {
            model,
            token_kind,
            batch,
            marketplace,
        });
    }
    let markers = [
        ("-cache-read", TokenKind::CacheRead),
        ("-cache-write", TokenKind::CacheWrite),
        ("-input", TokenKind::Input),
        ("-output", TokenKind::Output),
    ];
    let found = markers
        .iter()
        .filter_map(|(m, kind)| lower.find(m).map(|i| (i, *kind)))
        .min_by_key(|(i, _)| *i);
    let (model, token_kind) = match found {
        Some((i, kind)) => (rest[..i].to_string(), kind),
        None => (rest.to_string(), TokenKind::Other),
    };
    Some(BedrockUsage {
        model,
        token_kind,
        batch,
        marketplace,
    })
}

/// Drops a leading region code such as `USE1-` or `EUC1-`.
fn strip_region(usage_type: &str) -> &str {
    match usage_type.split_once('-') {
        Some((prefix, rest))
            if (3..=5).contains(&prefix.len())
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && prefix.chars().any(|c| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => usage_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(service: &str, usage_type: &str, expect: Option<(&str, TokenKind, bool)>) {
        let got = parse(service, usage_type).map(|u| (u.model, u.token_kind, u.batch));
        let expect = expect.map(|(m, k, b)| (m.to_string(), k, b));
        assert_eq!(got, expect, "{service} / {usage_type}");
    }

    #[test]
    fn usage_types() {
        use TokenKind::*;
        let b = "Amazon Bedrock";
        check(
            b,
            "USE1-Claude4.6Sonnet-input-tokens",
            Some(("Claude4.6Sonnet", Input, false)),
        );
        check(
            b,
            "USW2-Claude4.6Sonnet-cache-read-input-token-count",
            Some(("Claude4.6Sonnet", CacheRead, false)),
        );
        check(
            b,
            "USE1-Claude4.6Sonnet-cache-write-input-token-count",
            Some(("Claude4.6Sonnet", CacheWrite, false)),
        );
        check(
            b,
            "USE1-NovaLite-output-tokens",
            Some(("NovaLite", Output, false)),
        );
        check(
            b,
            "USE1-NovaLite-input-tokens-batch",
            Some(("NovaLite", Input, true)),
        );
        check(
            b,
            "USW2-anthropic.claude-opus-4-mantle-cache-write-tokens-standard",
            Some(("anthropic.claude-opus-4-mantle", CacheWrite, false)),
        );
        check(
            b,
            "USE1-ProvisionedThroughput-Claude",
            Some(("ProvisionedThroughput-Claude", Other, false)),
        );
        check(
            "Claude 3 Haiku (Amazon Bedrock Edition)",
            "USW2-MP:USW2_InputTokenCount-Units",
            Some(("Claude 3 Haiku", Input, false)),
        );
        check("AWS Lambda", "USE1-Request", None);
        // Claude is billed under "Amazon Bedrock Service"; its usage types read the same.
        let claude = "Amazon Bedrock Service";
        check(
            claude,
            "USE1-Claude4.6Sonnet-input-tokens",
            Some(("Claude4.6Sonnet", Input, false)),
        );
        check(
            claude,
            "USE1-Claude4.6Opus-cache-read-input-token-count-cross-region-global",
            Some(("Claude4.6Opus", CacheRead, false)),
        );
        check(
            claude,
            "USE1-Claude4Sonnet-cache-write-input-token-count-1-hour",
            Some(("Claude4Sonnet", CacheWrite, false)),
        );
        check(
            "Amazon Bedrock Services",
            "USE1-Claude4.6Sonnet-input-tokens",
            None,
        );
    }

    #[test]
    fn usage_types_parse_the_same_under_every_bedrock_service() {
        for usage_type in [
            "USE1-Claude4.6Sonnet-input-tokens",
            "USW2-Claude4.6Sonnet-cache-read-input-token-count",
            "USE1-Llama4-Maverick-17B-input-tokens-batch",
            "USE1-NovaLite-input-tokens-priority",
            "USE1-Nova2.0Lite-ProvisionedThroughput-NoCommit-ModelUnits",
        ] {
            let a = parse("Amazon Bedrock", usage_type);
            let b = parse("Amazon Bedrock Service", usage_type);
            assert!(a.is_some(), "{usage_type}");
            assert_eq!(a, b, "{usage_type}");
        }
    }
}
