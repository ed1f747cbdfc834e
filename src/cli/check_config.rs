//! `creditburn check-config`: the config, what a run needs beyond it, and the rules
//! against the recording or the cached data, without sending or fetching.

use super::load::offline_table;
use super::*;

pub(super) fn check_config(common: &Common) -> anyhow::Result<()> {
    let config = config::load(&common.config)?;
    // What the file alone cannot tell, checked as `run` checks it before it
    // commits: addresses as lettre reads them, the password, the CA file, the
    // outbox folder, the state store.
    let mut problems: Vec<config::Problem> =
        deliver::problems(&config.email, &config.alerts.recipients)
            .into_iter()
            .map(|e| config::Problem {
                key: String::new(),
                message: e.to_string(),
            })
            .collect();
    problems.extend(
        deliver::channel::problems(&config.channels)
            .into_iter()
            .map(|e| config::Problem {
                key: String::new(),
                message: e.to_string(),
            }),
    );
    if let Some(source) = &config.daemon_token {
        if let Err(message) = deliver::secret_text(source) {
            problems.push(config::Problem {
                key: match source {
                    config::SecretSource::Env(_) => "daemon.token_env".into(),
                    config::SecretSource::File(_) => "daemon.token_file".into(),
                },
                message,
            });
        }
    }
    // A store that cannot be read is the store's problem (exit 73, as `run` and
    // `report` say it), unless the configuration has problems too: then every problem
    // is named, as a configuration error (78, as `run` says it first).
    let store = config.state_path.join(crate::store::FILE_NAME);
    let store_problem = store
        .exists()
        .then(|| crate::store::open_read_only(&store).err())
        .flatten();
    if problems.is_empty() {
        if let Some(e) = store_problem {
            return Err(e.into());
        }
    } else if let Some(e) = store_problem {
        problems.push(config::Problem {
            key: String::new(),
            message: e.to_string(),
        });
    }
    if !problems.is_empty() {
        return Err(ConfigError {
            path: common.config.clone(),
            problems,
        }
        .into());
    }
    // The data is checked before "ok" is said: a recording that cannot be read
    // is the error, not a footnote to an "ok".
    let checked = data_check(&config, common)?;
    println!(
        "{}: ok ({}, {})",
        common.config.display(),
        count(config.awards.len() as u64, "award", "awards"),
        count(config.workloads.len() as u64, "workload", "workloads"),
    );
    for line in export_options(&config) {
        println!("{line}");
    }
    match checked {
        Err(why) => println!("rules not checked against cost data: {why}"),
        Ok((against, report)) => {
            let warnings = &report.data.warnings;
            println!(
                "rules checked against {against}: {}",
                count(warnings.len() as u64, "warning", "warnings")
            );
            for w in warnings {
                println!("warning: {w}");
            }
        }
    }
    Ok(())
}

/// What `check-config` checked the rules against: a phrase naming the data, and the
/// report built on it; None with why when there is no data to check against.
pub(super) fn data_check(
    config: &Config,
    common: &Common,
) -> anyhow::Result<Result<(String, Report), String>> {
    let (table, described, _) = match offline_table(config, common, false)? {
        Ok(found) => found,
        Err(why) => return Ok(Err(why)),
    };
    let as_of = common.as_of.unwrap_or(table.last_day);
    let report = crate::analyse::report::assess(&table, config, as_of, None, None)
        .context("analysing the cost table")?;
    Ok(Ok((
        format!(
            "{described}, {} to {}",
            table.first_day,
            table.last_day.min(as_of)
        ),
        report,
    )))
}

/// With a CUR 2.0 source, the export options the rules need, and which workloads need
/// each: a rule on the principal needs INCLUDE_IAM_PRINCIPAL_DATA, one on the resource
/// INCLUDE_RESOURCES (deploy/README.md says how to set them).
fn export_options(config: &Config) -> Vec<String> {
    let format = match &config.source {
        config::SourceConfig::Export(source) => source.format,
        config::SourceConfig::Athena(_) => crate::model::line::ExportFormat::Cur,
        _ => return Vec::new(),
    };
    let mut lines = Vec::new();
    for (option, uses) in [
        (
            "INCLUDE_IAM_PRINCIPAL_DATA",
            &(|r: &config::Rule| {
                r.principal.is_some()
                    || r.tag
                        .as_ref()
                        .is_some_and(|(k, _)| k.starts_with(config::PRINCIPAL_TAG_PREFIX))
            }) as &dyn Fn(&config::Rule) -> bool,
        ),
        ("INCLUDE_RESOURCES", &|r: &config::Rule| {
            r.resource.is_some()
        }),
    ] {
        if format == crate::model::line::ExportFormat::Focus
            && option == "INCLUDE_IAM_PRINCIPAL_DATA"
        {
            continue;
        }
        let names: Vec<&str> = config
            .workloads
            .iter()
            .filter(|w| w.rules.iter().any(uses))
            .map(|w| w.name.as_str())
            .collect();
        if !names.is_empty() {
            lines.push(format!(
                "the export needs {option}: the rules of {} read its column",
                names.join(", ")
            ));
        }
    }
    lines
}
