//! The channels beside email, against real protocol peers on loopback: a Slack-shaped
//! receiver (200, 429 with Retry-After, 404 `no_service`), a webhook receiver that checks
//! each Standard Webhooks signature with an HMAC written here from SHA-256 (not the
//! `hmac` crate creditburn signs with), and SNS on the project's loopback AWS server.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::Value;

use crate::aws_server::FakeCostExplorer;
use crate::harness::Edit;
use crate::support::{demo_config, repo};

/// One request a receiver took.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// The status it was answered with.
    status: u16,
}

/// An answer: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<Answer>,
    /// Answered to every request when the script is empty; None: 200 "ok".
    always: Option<Answer>,
    log: Vec<Received>,
}

/// An HTTP/1.1 server on loopback that answers POSTs as scripted and logs them.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                        let mut headers = BTreeMap::new();
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                            }
                        }
                        let length: usize = headers
                            .get("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let (status, extra, text) = {
                            let mut s = state.lock().unwrap();
                            let answer = s
                                .script
                                .pop_front()
                                .or_else(|| s.always.clone())
                                .unwrap_or((200, vec![], "ok".into()));
                            s.log.push(Received {
                                path,
                                headers,
                                body,
                                status: answer.0,
                            });
                            answer
                        };
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
                            text.len()
                        );
                        for (k, v) in extra {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        if writer.write_all(head.as_bytes()).is_err()
                            || writer.write_all(text.as_bytes()).is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Receiver { url, state }
    }

    fn script(&self, answers: &[Answer]) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(answers.iter().cloned());
    }

    fn always(&self, answer: Option<Answer>) {
        self.state.lock().unwrap().always = answer;
    }

    fn log(&self) -> Vec<Received> {
        self.state.lock().unwrap().log.clone()
    }

    /// The bodies answered 2xx, as JSON.
    fn delivered(&self) -> Vec<Value> {
        self.log()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

/// HMAC-SHA256 written out from its definition (RFC 2104) over SHA-256: the receiver's
/// own check, independent of the implementation creditburn signs with.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        sha2::Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha2::Sha256::digest([ipad.as_slice(), message].concat());
    sha2::Sha256::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
}

/// The Standard Webhooks check a receiver makes: the headers present, the timestamp
/// near, one of the `v1,` signatures the HMAC of `id.timestamp.body` under the secret.
fn verify(secret: &str, r: &Received, now: i64) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|e| e.to_string())?;
    let id = r.headers.get("webhook-id").ok_or("no webhook-id")?;
    let ts = r
        .headers
        .get("webhook-timestamp")
        .ok_or("no webhook-timestamp")?;
    let t: i64 = ts.parse().map_err(|_| "a timestamp that is not a number")?;
    if (now - t).abs() > 5 * 60 {
        return Err(format!("timestamp {t} too far from {now}"));
    }
    let signed = [id.as_bytes(), b".", ts.as_bytes(), b".", &r.body].concat();
    let expected = format!("v1,{}", b64.encode(hmac_sha256(&key, &signed)));
    let header = r
        .headers
        .get("webhook-signature")
        .ok_or("no webhook-signature")?;
    if header.split(' ').any(|s| s == expected) {
        Ok(())
    } else {
        Err(format!("signature {header} is not {expected}"))
    }
}

#[test]
fn the_hand_written_hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK_TOKEN: &str = "T0TEST/B0TEST/xoxSLACKSECRETtoken123";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:creditburn-alerts";
const T0: &str = "2026-11-21T08:00:00Z";

/// A demo setup with three channels: Slack (all alerts), a webhook (alerts and the
/// digest) and SNS (chat format, critical only).
struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
    slack: Receiver,
    hook: Receiver,
    aws: FakeCostExplorer,
}

fn setup() -> Setup {
    setup_with("")
}

fn setup_with(extra_route: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let config = demo_config(&path, &repo().join("fixtures/demo"));
    let slack = Receiver::start();
    let hook = Receiver::start();
    let aws = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    let text = format!(
        "{text}\n[[channels]]\nname = \"team-slack\"\nkind = \"slack\"\nurl_env = \"TEST_SLACK_URL\"\n{extra_route}\n\n[[channels]]\nname = \"finance-hook\"\nkind = \"webhook\"\nurl = \"{}/hooks/creditburn\"\nsecret_file = \"hook-secret\"\ndigest = true\n\n[[channels]]\nname = \"ops-sns\"\nkind = \"sns\"\ntopic_arn = \"{TOPIC}\"\nseverities = [\"critical\", \"warning\"]\n",
        hook.url
    );
    std::fs::write(&config, text).unwrap();
    std::fs::write(path.join("hook-secret"), format!("{SECRET}\n")).unwrap();
    Setup {
        _dir: dir,
        dir: path,
        config,
        slack,
        hook,
        aws,
    }
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditburn"));
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .env(
                "TEST_SLACK_URL",
                format!("{}/services/{SLACK_TOKEN}", self.slack.url),
            )
            .env("AWS_ENDPOINT_URL_SNS", &self.aws.url)
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            )
            .env_remove("CREDITBURN_FAILPOINT");
        cmd
    }

    fn run(&self, now: &str, env: &[(&str, &str)]) -> Output {
        self.command(&["run", "--now", now])
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// The alert emails the run wrote (the `.eml` folder), not the digest.
    fn alert_emails(&self) -> usize {
        std::fs::read_dir(self.dir.join("outbox"))
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().contains(".digest."))
                    .count()
            })
            .unwrap_or(0)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_tells_every_channel_what_its_route_asks_for_once() {
    let s = setup();
    let out = s.run(T0, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = s.alert_emails();
    assert!(alerts >= 2, "the demo raises alerts: {alerts}");

    // Slack: one Block Kit message per alert email, within Slack's limits.
    let slack = s.slack.delivered();
    assert_eq!(slack.len(), alerts, "{slack:?}");
    for m in &slack {
        let blocks = m["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        assert_eq!(blocks[0]["type"], "header");
        assert!(m["text"].as_str().unwrap().len() > 10, "a fallback text");
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3000);
            }
            for f in b["fields"].as_array().into_iter().flatten() {
                assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
            }
        }
    }
    let paths: Vec<String> = s.slack.log().iter().map(|r| r.path.clone()).collect();
    assert!(paths
        .iter()
        .all(|p| p == &format!("/services/{SLACK_TOKEN}")));

    // The webhook: every alert and the digest, each signed, the schema versioned.
    let hook = s.hook.log();
    assert_eq!(hook.len(), alerts + 1, "the alerts and the digest");
    let mut ids = Vec::new();
    for r in &hook {
        // Signed when sent, so the timestamp is the wall clock's, not --now's.
        let wall = chrono::Utc::now().timestamp();
        verify(SECRET, r, wall).unwrap_or_else(|e| panic!("{e}"));
        assert!(verify("whsec_c2VjcmV0LXRoYXQtaXMtbm90LWl0", r, wall).is_err());
        ids.push(r.headers["webhook-id"].clone());
        assert_eq!(r.path, "/hooks/creditburn");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), hook.len(), "one id per message");
    let bodies = s.hook.delivered();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "digest").count(),
        1,
        "{types:?}"
    );
    for b in &bodies {
        assert_eq!(b["version"], 1);
        if b["type"] == "award.alert" {
            let d = &b["data"];
            let award = d["award"]["id"].as_str().unwrap();
            assert_eq!(d["alert"]["award"], award);
            assert!(d["alert"]["key"].as_str().unwrap().starts_with(award));
            assert!(
                ["info", "warning", "critical"].contains(&d["alert"]["severity"].as_str().unwrap())
            );
            assert!(d["award"]["amount"].as_f64().unwrap() > 0.0);
            assert!(d["award"].get("daily").is_none(), "no daily series");
        }
    }

    // SNS: the awards whose leading alert is a warning or critical, as Amazon Q's
    // custom notification.
    let report = crate::support::report_json(&s.config, &[]);
    let mut urgent: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["severity"] != "info")
        .map(|a| a["award"].as_str().unwrap())
        .collect();
    urgent.sort();
    urgent.dedup();
    let published = s.aws.published();
    assert!(!urgent.is_empty(), "the demo has warnings");
    assert_eq!(published.len(), urgent.len());
    for p in &published {
        assert_eq!(p["TopicArn"], TOPIC);
        assert!(p["Subject"].chars().count() < 100);
        let chat: Value = serde_json::from_str(&p["Message"]).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert!(!chat["content"]["title"].as_str().unwrap().is_empty());
        assert!(!chat["content"]["description"].as_str().unwrap().is_empty());
        assert_ne!(chat["content"]["keywords"][0], "info");
    }

    // A second run the same morning sends nothing again anywhere.
    let again = s.run("2026-11-21T08:05:00Z", &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(s.slack.log().len(), alerts);
    assert_eq!(s.hook.log().len(), alerts + 1);
    assert_eq!(s.aws.published().len(), published.len());
}

#[test]
fn a_route_picks_by_severity_award_and_workload() {
    // Slack takes only the award "poc"'s alerts.
    let report = {
        let s = setup();
        crate::support::report_json(&s.config, &[])
    };
    let poc_alerts = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["award"] == "poc-support")
        .count();
    let s = setup_with("awards = [\"poc-support\"]");
    let out = s.run(T0, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let slack = s.slack.delivered();
    assert_eq!(slack.len(), usize::from(poc_alerts > 0), "{slack:?}");
    for m in &slack {
        assert!(m["text"].as_str().unwrap().contains("poc-support"), "{m}");
    }
}

#[test]
fn a_short_retry_after_is_waited_for_and_a_long_one_is_honoured_by_later_runs() {
    let s = setup();
    s.slack.script(&[(
        429,
        vec![("Retry-After".into(), "1".into())],
        "rate_limited".into(),
    )]);
    let out = s.run(T0, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = s.alert_emails();
    assert_eq!(
        s.slack.delivered().len(),
        alerts,
        "all sent after a 1 s wait"
    );

    let s = setup();
    s.slack.script(&[(
        429,
        vec![("Retry-After".into(), "600".into())],
        "rate_limited".into(),
    )]);
    let out = s.run(T0, &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(s.slack.delivered().is_empty());
    // The other channels were not held up.
    assert!(!s.hook.delivered().is_empty());
    // Five minutes later is too soon for every message to that hook; eleven is not.
    let out = s.run("2026-11-21T08:05:00Z", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.slack.log().len(), 1, "not tried before Retry-After");
    let out = s.run("2026-11-21T08:11:00Z", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.slack.delivered().len(), s.alert_emails());
}

#[test]
fn a_revoked_slack_hook_holds_its_queue_exits_78_and_sends_all_once_fixed() {
    let s = setup();
    s.slack.always(Some((404, vec![], "no_service".into())));
    let out = s.run(T0, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("team-slack"), "{err}");
    assert!(err.contains("no_service"), "{err}");
    assert!(
        err.contains("TEST_SLACK_URL"),
        "says where to fix it: {err}"
    );
    assert!(!err.contains(SLACK_TOKEN), "{err}");
    assert_eq!(s.slack.log().len(), 1, "one try, then the queue is held");
    // Email and the other channels went out.
    assert!(!s.hook.delivered().is_empty());
    // The report says what holds them, no attempt counted.
    let report = crate::support::report_json(&s.config, &[]);
    let waiting = report["deliveries"]["waiting"].as_array().unwrap();
    assert!(
        waiting
            .iter()
            .any(|w| w["error"].as_str().unwrap().contains("team-slack")),
        "{waiting:?}"
    );
    // Held again while it stays revoked, then all delivered once fixed.
    let out = s.run("2026-11-21T08:01:00Z", &[]);
    assert_eq!(out.status.code(), Some(78));
    s.slack.always(None);
    let out = s.run("2026-11-21T08:02:00Z", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.slack.delivered().len(), s.alert_emails());
}

#[test]
fn sns_refusing_the_credentials_holds_that_channel_and_exits_78() {
    let s = setup();
    s.aws.sns_fail_next(&["AuthorizationError"]);
    let out = s.run(T0, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("ops-sns") && err.contains("AuthorizationError"),
        "{err}"
    );
    assert!(err.contains("sns:Publish"), "{err}");
    assert!(s.aws.published().is_empty());
    let out = s.run("2026-11-21T08:01:00Z", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!s.aws.published().is_empty());
    // Throttling is retried like any transient failure, not held.
    let s = setup();
    s.aws.sns_fail_next(&["Throttled"]);
    let out = s.run(T0, &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
}

#[test]
fn no_secret_reaches_a_log_the_report_the_store_or_a_message() {
    let s = setup();
    // A receiver that echoes what it was sent, as a misbehaving proxy might.
    s.slack.always(Some((
        400,
        vec![],
        format!("invalid_payload for /services/{SLACK_TOKEN} (token xoxSLACKSECRETtoken123)"),
    )));
    s.hook
        .always(Some((500, vec![], format!("bad key {SECRET}"))));
    let out = s.run(T0, &[]);
    let mut seen = stderr(&out) + &String::from_utf8_lossy(&out.stdout);
    let report = s.command(&["report", "--format", "json"]).output().unwrap();
    seen.push_str(&String::from_utf8_lossy(&report.stdout));
    seen.push_str(&String::from_utf8_lossy(&report.stderr));
    let check = s.command(&["check-config"]).output().unwrap();
    seen.push_str(&String::from_utf8_lossy(&check.stdout));
    seen.push_str(&String::from_utf8_lossy(&check.stderr));
    let mut store = std::fs::read(s.dir.join("state/creditburn.sqlite3")).unwrap();
    store.extend(std::fs::read(s.dir.join("state/creditburn.sqlite3-wal")).unwrap_or_default());
    seen.push_str(&String::from_utf8_lossy(&store));
    for r in s.slack.log().iter().chain(s.hook.log().iter()) {
        seen.push_str(&String::from_utf8_lossy(&r.body));
    }
    assert!(seen.contains("invalid_payload"), "the refusal is reported");
    for secret in [
        SLACK_TOKEN,
        SECRET,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "xoxSLACKSECRETtoken123",
    ] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

/// Every message each receiver took, by id (Slack has none: its body stands in).
fn received(s: &Setup) -> Vec<String> {
    let mut out: Vec<String> = s
        .slack
        .log()
        .iter()
        .map(|r| format!("slack {}", String::from_utf8_lossy(&r.body)))
        .chain(
            s.hook
                .log()
                .iter()
                .map(|r| format!("hook {}", r.headers["webhook-id"])),
        )
        .chain(
            s.aws
                .published()
                .iter()
                .map(|p| format!("sns {}", p["Message"])),
        )
        .collect();
    out.sort();
    out
}

#[test]
fn a_kill_at_any_step_loses_nothing_and_repeats_at_most_the_message_in_flight() {
    let reference = {
        let s = setup();
        assert!(s.run(T0, &[]).status.success());
        received(&s)
    };
    assert!(reference.len() >= 4);
    let shape = |m: &String| -> String {
        // The digest and alerts are the same messages at a later minute: compare them by
        // channel and kind, the timestamped keys aside.
        m.split_whitespace().next().unwrap().to_string()
    };
    for step in ["after-commit", "before-channel-send", "after-channel-send"] {
        let s = setup();
        let killed = s.run(T0, &[("CREDITBURN_FAILPOINT", step)]);
        assert!(
            !killed.status.success(),
            "{step}: the failpoint stops the run"
        );
        let out = s.run("2026-11-21T08:01:00Z", &[]);
        assert!(out.status.success(), "{step}: {}", stderr(&out));
        let got = received(&s);
        let mut missing = reference.clone();
        for m in &got {
            if let Some(i) = missing.iter().position(|r| r == m) {
                missing.remove(i);
            }
        }
        assert!(missing.is_empty(), "{step}: lost {missing:?}");
        assert!(
            got.len() <= reference.len() + 1,
            "{step}: more than one repeat: {:?}",
            got.iter().map(shape).collect::<Vec<_>>()
        );
    }
}

#[test]
fn check_config_names_every_channel_problem_at_once() {
    let s = setup();
    std::fs::remove_file(s.dir.join("hook-secret")).unwrap();
    let out = s
        .command(&["check-config"])
        .env_remove("TEST_SLACK_URL")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("channels[\"team-slack\"].url_env"), "{err}");
    assert!(err.contains("TEST_SLACK_URL is not set"), "{err}");
    assert!(
        err.contains("channels[\"finance-hook\"].secret_file"),
        "{err}"
    );

    // Keys checked by the config itself: a bad ARN, a URL in the file, an unknown award.
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .edited(TOPIC, "arn:aws:sns:us-east-1:1234:x")
        .edited(
            "url_env = \"TEST_SLACK_URL\"",
            "url = \"https://hooks.slack.com/services/x\"",
        )
        .edited(
            "severities = [\"critical\", \"warning\"]",
            "severities = [\"urgent\"]\nawards = [\"nope\"]",
        );
    std::fs::write(&s.config, text).unwrap();
    let out = s.command(&["check-config"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    for key in [
        "channels[\"ops-sns\"].topic_arn",
        "channels[\"team-slack\"].url",
        "channels[\"ops-sns\"].severities[0]",
        "channels[\"ops-sns\"].awards[0]",
    ] {
        assert!(err.contains(key), "{key}: {err}");
    }
    assert!(err.contains("credential"), "{err}");
}

#[test]
fn send_test_reaches_one_channel_and_send_test_email_still_works() {
    let s = setup();
    let out = s
        .command(&["send-test", "--channel", "finance-hook", "--now", T0])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = s.hook.log();
    assert_eq!(log.len(), 1);
    verify(SECRET, &log[0], chrono::Utc::now().timestamp()).unwrap();
    let body: Value = serde_json::from_slice(&log[0].body).unwrap();
    assert_eq!(body["type"], "test");
    assert!(s.slack.log().is_empty());

    s.slack.always(Some((404, vec![], "no_service".into())));
    let out = s
        .command(&["send-test", "--channel", "team-slack"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_service"));

    let out = s
        .command(&["send-test", "--channel", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("team-slack"),
        "names the channels there are"
    );

    // The old name still sends the test email.
    let out = s.command(&["send-test-email"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.command(&["send-test"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn iam_policy_adds_sns_publish_on_the_configured_topic_only() {
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/iam-policy.json")).unwrap(),
    )
    .unwrap();
    let out = crate::support::creditburn(&[
        "iam-policy",
        "--config",
        repo().join("config/example.toml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plain: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plain, shipped, "without SNS, the shipped policy as it is");

    let s = setup();
    let out = s.command(&["iam-policy"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let with_sns: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statements = with_sns["Statement"].as_array().unwrap();
    assert_eq!(
        statements.len(),
        shipped["Statement"].as_array().unwrap().len() + 1
    );
    let sns = statements.last().unwrap();
    assert_eq!(sns["Action"], serde_json::json!(["sns:Publish"]));
    assert_eq!(sns["Resource"], serde_json::json!([TOPIC]));
    // And Publish is the one SNS operation a run calls: the fake answers no other, and
    // every message it took came as one.
    assert!(s.run(T0, &[]).status.success());
    assert!(s.aws.published().iter().all(|p| p["Action"] == "Publish"));
}
