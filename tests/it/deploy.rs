//! The deployment files: systemd units verified by systemd-analyze, Kubernetes manifests
//! parsed and checked for what keeps creditburn safe, and the Dockerfile's shape.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::repo;

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = [
        "creditburn.service",
        "creditburn.timer",
        "creditburn-daemon.service",
    ];
    for unit in units {
        // systemd-analyze checks that ExecStart exists: point it at the built binary.
        let text = std::fs::read_to_string(repo().join("deploy/systemd").join(unit))
            .unwrap()
            .replace(
                "/usr/local/bin/creditburn",
                env!("CARGO_BIN_EXE_creditburn"),
            );
        std::fs::write(dir.path().join(unit), text).unwrap();
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
    creditburn::schedule::parse(line, cron["spec"]["timeZone"].as_str()).unwrap();
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
