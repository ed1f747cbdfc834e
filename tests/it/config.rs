//! Bad configurations: each must be reported with its key and the bad value echoed.

use crate::harness::Edit;
use std::path::Path;

use creditburn::config;

use crate::support::SMALL_CONFIG;

/// Applies `edit` (old, new) to the valid config and checks that validation fails with a
/// problem whose text contains every string in `expect`.
fn check(edit: (&str, &str), expect: &[&str]) {
    assert!(
        SMALL_CONFIG.contains(edit.0),
        "the edit {:?} must apply",
        edit.0
    );
    let text = SMALL_CONFIG.replacen(edit.0, edit.1, 1);
    let problems = match config::parse(&text, Path::new(".")) {
        Ok(_) => panic!("accepted a bad config: {edit:?}"),
        Err(p) => p,
    };
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        rendered
            .iter()
            .any(|line| expect.iter().all(|e| line.contains(e))),
        "no problem mentions {expect:?}; got {rendered:#?}"
    );
}

#[test]
fn stacked_awards_and_tranches_are_accepted() {
    // A POC on top of Portfolio on the same workload, Founders beside it, and an
    // accelerator award in tranches: all valid, drawn in AWS's order.
    let text = SMALL_CONFIG.replacen(
        "workloads = [\"rag\"]\n",
        "workloads = [\"rag\"]\n[[awards]]\nid = \"portfolio\"\nprogram = \"activate_portfolio\"\namount = 100000\nstart = \"2026-01-01\"\nexpiry = \"2027-12-31\"\nworkloads = [\"rag\"]\n[[awards]]\nid = \"accelerator\"\nprogram = \"genai_accelerator\"\nstart = \"2026-03-01\"\nexpiry = \"2027-02-28\"\nworkloads = [\"rag\"]\ntranches = [{ date = \"2026-05-01\", amount = 200000 }, { date = \"2026-03-01\", amount = 100000 }]\n",
        1,
    );
    let c = config::parse(&text, Path::new(".")).unwrap();
    assert_eq!(c.awards.len(), 3);
    let acc = &c.awards[2];
    assert_eq!(acc.amount, 300_000.0);
    assert_eq!(
        acc.tranches,
        vec![
            ("2026-03-01".parse().unwrap(), 100_000.0),
            ("2026-05-01".parse().unwrap(), 200_000.0)
        ]
    );
    assert_eq!(
        c.awards[0].tranches,
        vec![("2026-03-01".parse().unwrap(), 25_000.0)]
    );
    assert_eq!(c.analysis.drawdown_order, config::DrawdownOrder::Aws);
    // The same tie that AWS's order refuses is accepted in the listed order.
    let tie = SMALL_CONFIG.replacen(
        "workloads = [\"rag\"]\n",
        "workloads = [\"rag\"]\n[[awards]]\nid = \"poc2\"\nprogram = \"other\"\namount = 5\nstart = \"2026-03-01\"\nexpiry = \"2026-05-29\"\nworkloads = [\"rag\"]\n",
        1,
    );
    assert!(config::parse(&tie, Path::new(".")).is_err());
    let listed = tie.replacen(
        "[alerts]",
        "[analysis]\ndrawdown_order = \"listed\"\n[alerts]",
        1,
    );
    let c = config::parse(&listed, Path::new(".")).unwrap();
    assert_eq!(c.analysis.drawdown_order, config::DrawdownOrder::Listed);
}

#[test]
fn the_valid_config_is_valid() {
    let c = config::parse(SMALL_CONFIG, Path::new("/etc/cb")).unwrap();
    assert_eq!(c.awards.len(), 1);
    assert_eq!(
        c.email.transport,
        config::TransportConfig::File {
            outbox: "/etc/cb/outbox".into()
        }
    );
}

#[test]
fn services_are_matched_the_way_aws_spells_them() {
    // Regression: "BEDROCK" was taken for an exact service name that matches nothing, so
    // a workload lost all of its Bedrock spend without a word.
    check(
        (
            "services = [\"bedrock\", \"s3\"]",
            "services = [\"BEDROCK\", \"s3\"]",
        ),
        &[
            "workloads[0].services[0]",
            "\"BEDROCK\" differs from the alias \"bedrock\" only by case",
        ],
    );
    check(
        (
            "services = [\"bedrock\", \"s3\"]",
            "services = [\"bedrock\", \"S3\"]",
        ),
        &["workloads[0].services[1]", "alias \"s3\" only by case"],
    );
    check(
        (
            "services = [\"bedrock\", \"s3\"]",
            "services = [\"amazon bedrock service\"]",
        ),
        &[
            "workloads[0].services[0]",
            "\"Amazon Bedrock Service\" only by case",
        ],
    );
    check(
        (
            "services = [\"bedrock\", \"s3\"]",
            "services = [\"Amazon Bedrock \"]",
        ),
        &["workloads[0].services[0]", "white space"],
    );
    check(
        ("tag = \"workload=rag\"", "tag = \"workload=rag\\n\""),
        &["workloads[0].rules[0].tag", "white space"],
    );
    // An exact name AWS uses is fine, whatever its case looks like.
    let text = SMALL_CONFIG.edited(
        "services = [\"bedrock\", \"s3\"]",
        "services = [\"Amazon Bedrock Service\", \"AmazonCloudWatch\"]",
    );
    config::parse(&text, Path::new(".")).unwrap();
}

#[test]
fn numbers_that_would_overflow_are_refused_naming_the_key() {
    for (edit, key) in [
        (
            ("amount = 25000", "amount = 2.7e10"),
            "awards[\"poc\"].amount",
        ),
        (
            ("slack_days = 7", "slack_days = 9223372036854775000"),
            "alerts.slack_days",
        ),
        (
            (
                "slack_days = 7",
                "slack_days = 7\nrepeat_interval_hours = 1e300",
            ),
            "alerts.repeat_interval_hours",
        ),
        (
            (
                "outbox = \"outbox\"",
                "outbox = \"outbox\"\nretry_base_minutes = 1e300",
            ),
            "email.retry_base_minutes",
        ),
        (
            (
                "outbox = \"outbox\"",
                "outbox = \"outbox\"\nretry_max_hours = 1e17",
            ),
            "email.retry_max_hours",
        ),
        (
            ("expiry = \"2026-05-29\"", "expiry = \"9999-12-31\""),
            "awards[\"poc\"].expiry",
        ),
    ] {
        check(edit, &[key]);
    }
}

#[test]
fn bad_configs() {
    check(
        ("expiry = \"2026-05-29\"", "expiry = \"2026-01-01\""),
        &[
            "awards[\"poc\"].expiry",
            "2026-01-01 is before start 2026-03-01",
        ],
    );
    check(
        ("workloads = [\"rag\"]", "workloads = [\"ghost\"]"),
        &["awards[\"poc\"].workloads[0]", "\"ghost\""],
    );
    check(
        ("amount = 25000", "amount = -5"),
        &["awards[\"poc\"].amount", "-5"],
    );
    check(
        ("amount = 25000", "amount = 0"),
        &["awards[\"poc\"].amount", "0 must be a positive"],
    );
    check(
        ("start = \"2026-03-01\"", "start = \"2026-13-01\""),
        &["awards[\"poc\"].start", "\"2026-13-01\""],
    );
    check(
        ("start = \"2026-03-01\"", "start = \"1/3/2026\""),
        &["awards[\"poc\"].start", "\"1/3/2026\""],
    );
    check(
        ("program = \"bedrock_poc\"", "program = \"poc\""),
        &["awards[\"poc\"].program", "\"poc\""],
    );
    check(
        ("amount = 25000", "amount = 25000\ncurrency = \"EUR\""),
        &["awards[\"poc\"].currency", "\"EUR\""],
    );
    check(
        ("priority = 2\n", ""),
        &["workloads[1].rules[0]", "workloads[0].rules[0]", "priority"],
    );
    check(
        ("services = [\"bedrock\", \"s3\"]", "services = [\"lamda\"]"),
        &["workloads[0].services[0]", "\"lamda\""],
    );
    check(
        ("account = \"222222222222\"", "account = \"2222\""),
        &["workloads[1].rules[0].account", "\"2222\""],
    );
    check(
        ("tag = \"workload=rag\"", "tag = \"workload\""),
        &["workloads[0].rules[0].tag", "\"workload\""],
    );
    check(
        ("rules = [{ tag = \"workload=rag\" }]", "rules = [{}]"),
        &["workloads[0].rules[0]", "no condition"],
    );
    check(
        (
            "recipients = [\"finance@example.com\"]",
            "recipients = [\"finance\"]",
        ),
        &["alerts.recipients[0]", "\"finance\""],
    );
    check(
        ("recipients = [\"finance@example.com\"]", "recipients = []"),
        &["alerts.recipients", "empty"],
    );
    check(
        ("thresholds = [50, 90]", "thresholds = [50, 0]"),
        &["alerts.thresholds[1]", "0"],
    );
    check(
        ("slack_days = 7", "slack_days = -1"),
        &["alerts.slack_days", "-1"],
    );
    check(
        ("kind = \"fixtures\"", "kind = \"s3\""),
        &["source.kind", "\"s3\""],
    );
    check(
        ("[state]", "colour = \"red\"\n[state]"),
        &["colour: is not a key creditburn knows here (it knows: "],
    );
    check(
        ("slack_days = 7", "slack_days = 7\nsnooze = 1"),
        &["alerts.snooze: is not a key creditburn knows"],
    );
    // A stack AWS's order cannot tell apart (same start, expiry and services).
    check(
        ("workloads = [\"rag\"]\n", "workloads = [\"rag\"]\n[[awards]]\nid = \"poc2\"\nprogram = \"other\"\namount = 5\nstart = \"2026-03-01\"\nexpiry = \"2026-05-29\"\nworkloads = [\"rag\"]\n"),
        &["awards[\"poc2\"].workloads", "\"rag\"", "\"poc\"", "drawdown_order = \"listed\""],
    );
    check(
        (
            "[alerts]",
            "[analysis]\ndrawdown_order = \"newest\"\n[alerts]",
        ),
        &["analysis.drawdown_order", "\"newest\"", "\"listed\""],
    );
    // Tranches: outside the period, not adding up to the amount, not positive, no date.
    check(
        ("amount = 25000\n", "amount = 25000\ntranches = [{ date = \"2026-03-01\", amount = 20000 }, { date = \"2026-06-01\", amount = 5000 }]\n"),
        &["awards[\"poc\"].tranches[1].date", "2026-06-01", "outside the award's period"],
    );
    check(
        (
            "amount = 25000\n",
            "amount = 25000\ntranches = [{ date = \"2026-03-01\", amount = 20000 }]\n",
        ),
        &[
            "awards[\"poc\"].amount",
            "not the sum of its tranches (20000)",
        ],
    );
    check(
        ("amount = 25000\n", "tranches = [{ date = \"2026-03-01\", amount = -5 }, { date = \"2026-13-01\", amount = 5 }]\n"),
        &["awards[\"poc\"].tranches[0].amount", "-5"],
    );
    check(
        (
            "amount = 25000\n",
            "tranches = [{ date = \"2026-13-01\", amount = 5 }]\n",
        ),
        &["awards[\"poc\"].tranches[0].date", "\"2026-13-01\""],
    );
    check(
        ("amount = 25000\n", ""),
        &["awards[\"poc\"].amount", "is missing", "tranches"],
    );
    check(
        (
            "amount = 25000\n",
            "amount = 25000\ntranches = [{ date = \"2026-03-01\", amont = 5 }]\n",
        ),
        &["awards[\"poc\"].tranches[0].amont", "did you mean"],
    );
    // A plan line: points in the period, amounts within the award, rising, the whole
    // award on the expiry day.
    check(
        (
            "amount = 25000\n",
            "amount = 25000\nplan = [{ date = \"2026-05-29\", amount = 9000 }]\n",
        ),
        &[
            "awards[\"poc\"].plan[0].amount",
            "on the expiry day",
            "25000",
        ],
    );
    check(
        (
            "amount = 25000\n",
            "amount = 25000\nplan = [{ date = \"2026-04-01\", amount = 30000 }]\n",
        ),
        &[
            "awards[\"poc\"].plan[0].amount",
            "30000",
            "from 0 to the award's 25000",
        ],
    );
    check(
        ("amount = 25000\n", "amount = 25000\nplan = [{ date = \"2026-04-01\", amount = 9000 }, { date = \"2026-03-15\", amount = 10000 }]\n"),
        &["awards[\"poc\"].plan[1]", "comes after 2026-04-01 (9000)", "must rise"],
    );
    check(
        (
            "amount = 25000\n",
            "amount = 25000\nplan = [{ date = \"2027-01-01\", amount = 9000 }]\n",
        ),
        &["awards[\"poc\"].plan[0].date", "outside the award's period"],
    );
    check(
        (
            "amount = 25000\n",
            "amount = 25000\nplan = [{ date = \"2026-04-01\", amont = 9000 }]\n",
        ),
        &["awards[\"poc\"].plan[0].amont", "did you mean"],
    );
    check(("id = \"poc\"", "id = \"\""), &["awards[0].id", "empty"]);
    check(
        (
            "start = \"2026-03-01\"",
            "start = \"2026-03-01\"\nsnooze_until = \"soon\"",
        ),
        &["awards[\"poc\"].snooze_until", "\"soon\""],
    );
    check(
        (
            "slack_days = 7",
            "slack_days = 7\nrepeat_interval_hours = 0",
        ),
        &["alerts.repeat_interval_hours", "0"],
    );
    check(
        ("slack_days = 7", "slack_days = 7\nspike_min_amount = -5"),
        &["alerts.spike_min_amount", "-5"],
    );
    check(
        ("slack_days = 7", "slack_days = 7\nspike_min_share = nan"),
        &["alerts.spike_min_share", "NaN"],
    );
    // Email transport.
    let smtp = |keys: &str| format!("transport = \"smtp\"\n[email.smtp]\n{keys}\n");
    check(
        (
            "outbox = \"outbox\"\n",
            &smtp("host = \"mail.example.com\"\npassword = \"hunter2\""),
        ),
        &["email.smtp.password", "never live in the config file"],
    );
    check(
        (
            "outbox = \"outbox\"\n",
            &smtp("host = \"mail.example.com\"\nsecurity = \"plain\""),
        ),
        &["email.smtp.security", "allow_plaintext"],
    );
    check(
        (
            "outbox = \"outbox\"\n",
            &smtp("host = \"mail.example.com\"\nsecurity = \"plain\"\nallow_plaintext = true"),
        ),
        &["email.smtp.host", "not a loopback address"],
    );
    check(
        (
            "outbox = \"outbox\"\n",
            &smtp("host = \"mail.example.com\"\nsecurity = \"ssl\""),
        ),
        &["email.smtp.security", "\"ssl\""],
    );
    check(
        (
            "outbox = \"outbox\"\n",
            &smtp("host = \"mail.example.com\"\nusername = \"cb\""),
        ),
        &["email.smtp.username", "password_env or password_file"],
    );
    check(("outbox = \"outbox\"\n", &smtp("host = \"m.example.com\"\nusername = \"cb\"\npassword_env = \"A\"\npassword_file = \"f\"")), &["email.smtp.password_file", "not both"]);
    check(
        ("outbox = \"outbox\"\n", "transport = \"smtp\"\n"),
        &["email.smtp", "required"],
    );
    check(
        ("outbox = \"outbox\"\n", "transport = \"pigeon\"\n"),
        &["email.transport", "\"pigeon\""],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = SMALL_CONFIG
        .edited("amount = 25000", "amount = -1")
        .edited("start = \"2026-03-01\"", "start = \"soon\"")
        .edited("workloads = [\"rag\"]", "workloads = [\"ghost\"]");
    let problems = config::parse(&text, Path::new(".")).unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "awards[\"poc\"].amount",
            "awards[\"poc\"].start",
            "awards[\"poc\"].workloads[0]"
        ]
    );
}

#[test]
fn s3_alias_with_a_digit_is_an_alias() {
    // Regression: "s3" was taken as a literal service name because of its digit.
    let c = config::parse(SMALL_CONFIG, Path::new(".")).unwrap();
    let rag = c.workload("rag").unwrap();
    assert!(rag.services.matches("Amazon Simple Storage Service"));
    assert!(!rag.services.matches("s3"));
}

#[test]
fn the_example_config_is_valid() {
    let path = crate::support::repo().join("config/example.toml");
    let c = config::load(&path).unwrap();
    assert_eq!(c.awards.len(), 5);
    // The accelerator comes in three tranches of $100K.
    let acc = c.awards.iter().find(|a| a.id == "accelerator").unwrap();
    assert_eq!(acc.amount, 300_000.0);
    assert_eq!(acc.tranches.len(), 3);
}

#[test]
fn disjoint_rules_need_no_priority() {
    // rag: USE1-Claude*; platform: USE1-Nova*, or team=x in USW2-*; y: team=y in USW2-*.
    // Different literal prefixes, or different values of one tag key, cannot both match,
    // so none of these needs a priority. z (USE1-NovaLite*) can match platform's first rule.
    let text = SMALL_CONFIG
        .edited("priority = 1\n", "")
        .edited("priority = 2\n", "")
        .edited(
            "rules = [{ tag = \"workload=rag\" }]",
            "rules = [{ usage_type = \"USE1-Claude*\" }]",
        )
        .edited(
            "rules = [{ account = \"222222222222\" }]",
            "rules = [{ usage_type = \"USE1-Nova*\" }, { tag = \"team=x\", usage_type = \"USW2-*\" }]",
        )
        .edited(
            "[[awards]]",
            "[[workloads]]\nname = \"y\"\nrules = [{ tag = \"team=y\", usage_type = \"USW2-*\" }]\n\n\
             [[workloads]]\nname = \"z\"\nrules = [{ usage_type = \"USE1-NovaLite*\" }]\n\n[[awards]]",
        );
    let problems = config::parse(&text, Path::new(".")).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(rendered.len(), 1, "{rendered:#?}");
    assert!(
        rendered[0].starts_with("workloads[3].rules[0]: \"z\" (usage type USE1-NovaLite*) can match the same spend as workloads[1].rules[0] \"platform\""),
        "{}",
        rendered[0]
    );
}

#[test]
fn unknown_keys_are_all_listed_with_their_path_and_the_key_meant() {
    let text = SMALL_CONFIG
        .edited("slack_days = 7", "slack_day = 7")
        .edited("amount = 25000", "amout = 25000\namount = -1")
        .edited("[state]", "[state]\nflavour = \"x\"");
    let problems = config::parse(&text, Path::new(".")).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    expect_test::expect![[r#"
        [
            "state.flavour: is not a key creditburn knows here (it knows: path)",
            "alerts.slack_day: is not a key creditburn knows; did you mean `alerts.slack_days`?",
            "awards[\"poc\"].amout: is not a key creditburn knows; did you mean `awards[\"poc\"].amount`?",
            "awards[\"poc\"].amount: -1 must be a positive amount of at most 1000000000 (the largest AWS awards are about $1M)",
        ]
    "#]]
    .assert_debug_eq(&rendered);
}

#[test]
fn values_of_the_wrong_type_are_listed_section_by_section() {
    let text = SMALL_CONFIG
        .edited("slack_days = 7", "slack_days = \"a week\"\nslack_dayz = 1")
        .edited("amount = 25000", "amount = \"lots\"");
    let problems = config::parse(&text, Path::new(".")).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        rendered[0].starts_with("alerts.slack_dayz:"),
        "{rendered:#?}"
    );
    assert!(
        rendered
            .iter()
            .any(|r| r.starts_with("alerts:") && r.contains("slack_days")
                || r.starts_with("alerts:") && r.contains("a week")),
        "{rendered:#?}"
    );
    assert!(
        rendered
            .iter()
            .any(|r| r.starts_with("awards[\"poc\"]:") && r.contains("lots")),
        "{rendered:#?}"
    );
}

#[test]
fn many_workloads_sharing_a_priority_are_one_problem_not_a_million() {
    // Regression: 2,000 workloads sharing a priority listed 2,005,000 problems (412 MB of
    // stderr): each pair its own line.
    let mut text = crate::support::SMALL_CONFIG.to_string();
    for i in 0..2_000 {
        text.push_str(&format!(
            "[[workloads]]\nname = \"w{i:04}\"\npriority = 7\nrules = [{{ usage_type = \"USE1-*\" }}]\n"
        ));
    }
    let problems = creditburn::config::parse(&text, std::path::Path::new(".")).unwrap_err();
    assert_eq!(
        problems.len(),
        1,
        "{:?}",
        &problems[..problems.len().min(3)]
    );
    let p = &problems[0];
    assert_eq!(p.key, "workloads[2].priority");
    assert!(
        p.message.starts_with("2,000 workloads can match the same spend without priorities that tell them apart: \"w0000\", \"w0001\", \"w0002\" and 1,997 more"),
        "{}",
        p.message
    );
    // Two workloads still get the pair's own sentence.
    let two = format!(
        "{}[[workloads]]\nname = \"a\"\npriority = 5\nrules = [{{ usage_type = \"USE1-*\" }}]\n[[workloads]]\nname = \"b\"\npriority = 5\nrules = [{{ usage_type = \"USE1-Nova*\" }}]\n",
        crate::support::SMALL_CONFIG
    );
    let problems = creditburn::config::parse(&two, std::path::Path::new(".")).unwrap_err();
    assert!(
        problems.iter().any(|p| p.message.contains(
            "\"b\" (usage type USE1-Nova*) can match the same spend as workloads[2].rules[0] \"a\""
        )),
        "{problems:?}"
    );
}

#[test]
fn checks_say_no_to_what_cannot_work() {
    // Regression: each passed check-config, then every run exited 75 and retried for
    // ever.
    let smtp = |keys: &str| {
        (
            "outbox = \"outbox\"",
            format!("transport = \"smtp\"\n[email.smtp]\n{keys}"),
        )
    };
    let (from, to) = smtp("host = \"127.0.0.1\"\nport = 0");
    check(
        (from, &to),
        &["email.smtp.port: 0 is no port a server listens on"],
    );
    let (from, to) = smtp("host = \"[::1]\"");
    check(
        (from, &to),
        &["email.smtp.host: \"[::1]\" has brackets", "\"::1\""],
    );
    let (from, to) = smtp("host = \"smtp.example.com:587\"");
    check(
        (from, &to),
        &["email.smtp.host: \"smtp.example.com:587\" holds a port"],
    );
    check(
        (
            "services = [\"bedrock\", \"s3\"]",
            "services = [\"all\", \"bogus\"]",
        ),
        &["workloads[0].services[0]: \"all\" stands alone"],
    );
}
