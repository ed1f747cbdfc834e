//! `creditburn daemon`: the schedule loop, the listener and the signals.

use super::*;

/// `creditburn daemon`: holds the state lock, runs `run` on the schedule, stops on
/// SIGTERM or SIGINT (a run in progress gets 8 seconds to finish).
pub(super) fn daemon(common: Common, run_at_start: bool) -> anyhow::Result<()> {
    use crate::daemon::{self, Event};
    let config = config::load(&common.config)?;
    let Some(schedule) = config.schedule.clone() else {
        return Err(Misconfigured(format!(
            "{}: there is no [schedule] table; add one with cron = \"15 7 * * *\" (see config/example.toml)",
            common.config.display()
        )).into());
    };
    let lock = daemon::lock(&config.state_path)?;
    let state = DaemonState::open(&config.state_path)?;
    let settings = daemon::Settings {
        schedule: schedule.schedule,
        jitter: std::time::Duration::from_secs(schedule.jitter_seconds),
        grace: std::time::Duration::from_secs(8),
        run_at_start,
    };
    tracing::info!(
        schedule = %settings.schedule.line,
        zone = %settings.schedule.zone,
        lock = %lock.path.display(),
        "daemon: schedule {:?} ({}), lock {}",
        settings.schedule.line,
        settings.schedule.zone,
        lock.path.display()
    );
    // Each pass runs as a child `creditburn run`: the daemon stays small between runs
    // (a run's memory goes back with its process) and a crashing run cannot take it down.
    let exe = std::env::current_exe().context("finding the creditburn binary")?;
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--under-daemon".into(),
        "--log-format".into(),
        match common.log_format {
            LogFormat::Text => "text".into(),
            LogFormat::Json => "json".into(),
        },
        "--config".into(),
        common.config.clone().into_os_string(),
    ];
    if let Some(p) = &common.profile {
        args.extend(["--profile".into(), p.into()]);
    }
    if let Some(n) = common.max_requests {
        args.extend(["--max-requests".into(), n.to_string().into()]);
    }
    let running: std::sync::Arc<std::sync::Mutex<Option<u32>>> = Default::default();
    let current = running.clone();
    let job: daemon::Job = Box::new(move |_slot| {
        let mut child = std::process::Command::new(&exe)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.id());
        let status = child.wait().map_err(|e| e.to_string());
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match status?.code() {
            Some(0) => Ok(()),
            Some(code) => Err(format!("creditburn run exited {code}")),
            None => Err("creditburn run was killed".into()),
        }
    });
    let job = std::sync::Arc::new(job);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Read once at start: a token that cannot be read stops the daemon with the key.
    let token = match &config.daemon_token {
        None => None,
        Some(source) => {
            let text = deliver::secret_text(source).map_err(|e| {
                Misconfigured(format!(
                    "{}: {e}",
                    match source {
                        config::SecretSource::Env(_) => "daemon.token_env",
                        config::SecretSource::File(_) => "daemon.token_file",
                    }
                ))
            })?;
            Some(daemon::http::Token::new(text.trim()))
        }
    };
    rt.block_on(async {
        if let Some(addr) = config.listen {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                let what = match e.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another process listens there; stop it or choose another port"
                    }
                    _ => "use an address and port of this machine creditburn may bind",
                };
                Misconfigured(format!(
                    "daemon.listen: cannot listen on {addr} ({e}); {what}"
                ))
            })?;
            tracing::info!(listen = %addr, "daemon: serving the status page, /health and /metrics on http://{addr}{}",
                if token.is_some() { " (/ and /metrics with the bearer token)" } else { "" });
            tokio::spawn(daemon::http::serve(
                listener,
                config.state_path.clone(),
                token.clone(),
                crate::notify::page::content_security_policy().into(),
            ));
        }
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be watched");
            tokio::select! {
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "daemon: SIGTERM, stopping"),
                _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "daemon: SIGINT, stopping"),
            }
        };
        let mut log = |e: &Event| match e {
            Event::Started { slot, late } => tracing::info!(
                slot = %slot,
                late,
                "daemon: run for {slot}{} started",
                if *late { " (caught up after downtime)" } else { "" }
            ),
            Event::Finished { slot, outcome } => {
                if outcome.is_ok() {
                    tracing::info!(slot = %slot, outcome = %outcome, "daemon: run for {slot}: {outcome}")
                } else {
                    tracing::error!(slot = %slot, outcome = %outcome, "daemon: run for {slot}: {outcome}")
                }
            }
            Event::Abandoned { slot } => tracing::warn!(
                slot = %slot,
                "daemon: run for {slot} abandoned at shutdown; its committed work stands"
            ),
            Event::Stopped => tracing::info!("daemon: stopped"),
        };
        daemon::run(
            &daemon::SystemClock,
            &settings,
            &state,
            job,
            shutdown,
            &mut log,
        )
        .await
        .map_err(anyhow::Error::from)
    })?;
    // A run abandoned at shutdown is stopped too; its committed work stands.
    if let Some(pid) = *running.lock().unwrap_or_else(|e| e.into_inner()) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    drop(lock);
    Ok(())
}
