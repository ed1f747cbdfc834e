//! The deployment files: systemd units verified and scored by systemd-analyze, Kubernetes
//! manifests parsed and checked for what keeps creditburn safe, the Dockerfile's shape and
//! its build context.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::repo;

/// A unit from deploy/systemd, its ExecStart pointed at the built binary (systemd-analyze
/// checks that ExecStart exists).
fn unit_for_analysis(unit: &str) -> String {
    std::fs::read_to_string(repo().join("deploy/systemd").join(unit))
        .unwrap()
        .replace(
            "/usr/local/bin/creditburn",
            env!("CARGO_BIN_EXE_creditburn"),
        )
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = [
        "creditburn.service",
        "creditburn.timer",
        "creditburn-daemon.service",
    ];
    for unit in units {
        std::fs::write(dir.path().join(unit), unit_for_analysis(unit)).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(units.iter().map(|u| dir.path().join(u)))
        .output()
        .expect("systemd-analyze runs (Debian's systemd package)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );

    let unit =
        |name: &str| std::fs::read_to_string(repo().join("deploy/systemd").join(name)).unwrap();
    let oneshot = unit("creditburn.service");
    assert!(oneshot.contains("Type=oneshot") && oneshot.contains("creditburn run --config"));
    assert!(oneshot.contains("LoadCredential=smtp-password:"));
    let daemon = unit("creditburn-daemon.service");
    assert!(
        daemon.contains("creditburn daemon --config")
            && daemon.contains("LoadCredential=smtp-password:")
    );
    let stop: u64 = daemon
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(stop >= 10, "the daemon needs 10 s to stop cleanly");
    assert!(unit("creditburn.timer").contains("Persistent=true"));
}

/// The highest overall exposure `systemd-analyze security` may give each service: the
/// scores deploy/README.md records (systemd 252). Lower them when the hardening improves.
const MAX_EXPOSURE: [(&str, f64); 2] = [
    ("creditburn.service", 1.1),
    ("creditburn-daemon.service", 1.1),
];

#[test]
fn systemd_services_keep_their_hardening() {
    let dir = tempfile::tempdir().unwrap();
    let readme = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    for (unit, max) in MAX_EXPOSURE {
        let path = dir.path().join(unit);
        std::fs::write(&path, unit_for_analysis(unit)).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(path)
            .output()
            .expect("systemd-analyze runs (Debian's systemd package)");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "systemd-analyze security {unit}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // "→ Overall exposure level for creditburn.service: 1.1 OK 🙂"
        let score: f64 = said
            .lines()
            .find_map(|l| l.split_once("Overall exposure level for "))
            .and_then(|(_, rest)| rest.split_once(": "))
            .and_then(|(_, level)| level.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: no overall exposure level in\n{said}"));
        assert!(
            score <= max,
            "{unit}: exposure {score} is above {max}, a hardening directive was lost:\n{said}"
        );
        let (row, recorded) = (format!("| `{unit}` |"), format!("{max:.1} OK"));
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with(&row) && l.contains(&recorded)),
            "deploy/README.md records {recorded} for {unit}"
        );
    }
}

/// Every document in a YAML file, as JSON (PyYAML parses; scripts/test installs it).
fn yaml(path: &Path) -> Vec<Value> {
    let out = Command::new("python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn by_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// Checks a pod spec: non-root, the creditburn command, the state on the claimed volume.
fn check_pod(pod: &Value, docs: &[Value], command: &str) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], command);
    assert_eq!(c["args"][1], "--config");
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/var/lib/creditburn")
        .expect("the state is mounted");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("on a claim");
    assert_eq!(
        by_kind(docs, "PersistentVolumeClaim")["metadata"]["name"],
        claim
    );
    // The SMTP password comes from a Secret, never the ConfigMap.
    assert!(c["env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["valueFrom"]["secretKeyRef"].is_object()));
}

#[test]
fn kubernetes_manifests_hold_together() {
    let docs = yaml(&repo().join("deploy/kubernetes/cronjob.yaml"));
    let cron = by_kind(&docs, "CronJob");
    assert_eq!(cron["apiVersion"], "batch/v1");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    // The schedule is a crontab line creditburn itself accepts.
    let line = cron["spec"]["schedule"].as_str().unwrap();
    creditburn::config::schedule::parse(line, cron["spec"]["timeZone"].as_str()).unwrap();
    check_pod(
        &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        &docs,
        "run",
    );

    let docs = yaml(&repo().join("deploy/kubernetes/daemon.yaml"));
    let deploy = by_kind(&docs, "Deployment");
    assert_eq!(deploy["apiVersion"], "apps/v1");
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(
        deploy["spec"]["strategy"]["type"], "Recreate",
        "never two daemons on one state"
    );
    let pod = &deploy["spec"]["template"]["spec"];
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 10);
    check_pod(pod, &docs, "daemon");
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_as_non_root_in_another() {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains(" AS build"));
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    assert!(runtime.contains("COPY --from=build"));
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "runs as {user}"
    );
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/creditburn\"]"));
    assert!(
        !runtime.contains("cargo"),
        "no toolchain in the runtime image"
    );
}

/// Where the Deployment's probes point: a container port, by number or by name.
fn container_port(ports: &[Value], port: &Value) -> u64 {
    match port {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(name) => ports
            .iter()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("a probe port is a number or a name, not {other}"),
    }
}

#[test]
fn the_daemon_is_probed_and_both_run_as_the_irsa_service_account() {
    let accounts = yaml(&repo().join("deploy/kubernetes/serviceaccount.yaml"));
    let account = by_kind(&accounts, "ServiceAccount");
    let name = account["metadata"]["name"].as_str().unwrap();
    let role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .expect("the IRSA annotation");
    assert!(
        role.starts_with("arn:aws:iam::") && role.ends_with(":role/creditburn"),
        "{role}"
    );

    let docs = yaml(&repo().join("deploy/kubernetes/cronjob.yaml"));
    let cron = by_kind(&docs, "CronJob");
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"],
        name
    );

    let docs = yaml(&repo().join("deploy/kubernetes/daemon.yaml"));
    let pod = &by_kind(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], name);
    let c = &pod["containers"][0];
    let ports = c["ports"]
        .as_array()
        .expect("the container declares its port");

    // Readiness: /health on the daemon's port.
    let ready = &c["readinessProbe"]["httpGet"];
    assert_eq!(ready["path"], "/health", "{:#}", c["readinessProbe"]);
    let port = container_port(ports, &ready["port"]);
    // Liveness: the same port, never /health (a failed run answers 503 there, and a
    // restart would not fix it).
    let live = &c["livenessProbe"];
    assert!(live.is_object(), "a liveness probe");
    assert_ne!(live["httpGet"]["path"], "/health");
    let live_port = if live["tcpSocket"].is_object() {
        &live["tcpSocket"]["port"]
    } else {
        &live["httpGet"]["port"]
    };
    assert_eq!(container_port(ports, live_port), port);

    // The daemon listens where its config says: deploy/README.md gives the Kubernetes
    // config that address, and the image exposes the same port.
    let readme = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    let listen = format!("listen = \"0.0.0.0:{port}\"");
    assert!(readme.contains(&listen), "deploy/README.md: {listen}");
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let expose = format!("EXPOSE {port}");
    assert!(
        dockerfile.lines().any(|l| l.trim() == expose),
        "the Dockerfile: {expose}"
    );
}

/// Whether `.dockerignore`'s `patterns` keep `path` (relative, `/`-separated) out of the
/// build context. As Docker decides: the last pattern matching the path or a folder
/// above it wins, and `!` takes a path back in. `*` and `?` stay within one path
/// segment, `**` spans any number of them.
fn docker_ignores(patterns: &[String], path: &str) -> bool {
    fn glob(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((&'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
            Some((&'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
            Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
        }
    }
    fn segments(pattern: &[&str], parts: &[&str]) -> bool {
        match pattern.split_first() {
            None => parts.is_empty(),
            Some((&"**", rest)) => (0..=parts.len()).any(|i| segments(rest, &parts[i..])),
            Some((first, rest)) => {
                !parts.is_empty()
                    && glob(
                        &first.chars().collect::<Vec<_>>(),
                        &parts[0].chars().collect::<Vec<_>>(),
                    )
                    && segments(rest, &parts[1..])
            }
        }
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut ignored = false;
    for pattern in patterns {
        let (keep, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let pattern: Vec<&str> = pattern
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if (1..=parts.len()).any(|n| segments(&pattern, &parts[..n])) {
            ignored = !keep;
        }
    }
    ignored
}

/// `path` with `.` and `..` resolved, `/`-separated.
fn normalise(path: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    out.join("/")
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// What `cargo build --release --locked --bin creditburn` reads from the context: the
/// manifest and lock file, src/, the bench targets Cargo.toml declares (cargo checks
/// they exist), and every file src/ pulls in with include_bytes!/include_str!.
fn build_inputs() -> Vec<String> {
    let root = repo();
    let mut inputs: Vec<String> = vec!["Cargo.toml".into(), "Cargo.lock".into(), "src".into()];
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    if let Some(benches) = manifest.get("bench").and_then(|b| b.as_array()) {
        for bench in benches {
            inputs.push(match bench.get("path").and_then(|p| p.as_str()) {
                Some(path) => path.to_string(),
                None => format!("benches/{}.rs", bench["name"].as_str().unwrap()),
            });
        }
    }
    for file in rust_files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let folder = file.parent().unwrap().strip_prefix(&root).unwrap();
        for mac in ["include_bytes!(", "include_str!("] {
            for (at, _) in text.match_indices(mac) {
                let Some(literal) = text[at + mac.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                let Some((included, _)) = literal.split_once('"') else {
                    continue;
                };
                inputs.push(normalise(&folder.join(included)));
            }
        }
    }
    inputs
}

#[test]
fn the_build_context_keeps_what_the_dockerfile_copies_and_drops_local_state() {
    let root = repo();
    let patterns: Vec<String> = std::fs::read_to_string(root.join(".dockerignore"))
        .expect("a .dockerignore at the root, the build context")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for gone in [
        "target",
        "target/release/creditburn",
        "state",
        "state/creditburn.sqlite3",
        "outbox",
        "outbox/message.eml",
        ".git",
        ".git/HEAD",
        "creditburn.sqlite3",
        "some/folder/creditburn.sqlite3",
    ] {
        assert!(
            docker_ignores(&patterns, gone),
            ".dockerignore lets {gone} into the build context"
        );
    }

    // Every COPY from the context (not from another stage); `.` copies the whole
    // context, so everything the build reads must be in it.
    let dockerfile = std::fs::read_to_string(root.join("deploy/Dockerfile")).unwrap();
    let mut sources = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let Some(rest) = line
            .split_once(char::is_whitespace)
            .filter(|(word, _)| word.eq_ignore_ascii_case("COPY"))
            .map(|(_, rest)| rest.trim())
        else {
            continue;
        };
        let words: Vec<String> = if rest.starts_with('[') {
            serde_json::from_str(rest).unwrap()
        } else {
            rest.split_whitespace().map(String::from).collect()
        };
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let words: Vec<&String> = words.iter().filter(|w| !w.starts_with("--")).collect();
        assert!(
            words.len() >= 2,
            "COPY needs a source and a destination: {line}"
        );
        sources.extend(words[..words.len() - 1].iter().map(|w| w.to_string()));
    }
    assert!(
        !sources.is_empty(),
        "the Dockerfile copies nothing from the context"
    );
    let mut needed = Vec::new();
    for source in sources {
        let source = source
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if source.is_empty() || source == "." {
            needed.extend(build_inputs());
        } else {
            needed.push(source);
        }
    }
    for path in needed {
        assert!(root.join(&path).exists(), "{path} does not exist");
        assert!(
            !docker_ignores(&patterns, &path),
            ".dockerignore drops {path}, which the image build needs"
        );
    }
}
