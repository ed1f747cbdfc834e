//! The layering rules of ARCHITECTURE.md, checked on the source the way rust-analyzer's
//! tidy test checks its own: every line of `src/` that names a module of this crate or a
//! crate with I/O in it is read, and a rule broken fails with the file and the line.

use std::path::{Path, PathBuf};

use crate::support::repo;

/// Each layer (a folder of `src/`) and the layers of this crate it may use. Dependencies
/// point one way: the shell (source, store, deliver, daemon, cli) uses the core (model,
/// config, analyse, notify), never the other way round.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("pricing", &["model"]),
    ("config", &["model", "pricing"]),
    ("analyse", &["model", "config", "pricing"]),
    ("notify", &["model", "config", "analyse"]),
    ("store", &["model", "config", "notify"]),
    ("source", &["model", "config", "store"]),
    ("deliver", &["model", "config", "notify", "store"]),
    ("daemon", &["model", "config", "store"]),
    (
        "cli",
        &[
            "model", "pricing", "config", "analyse", "notify", "store", "source", "deliver",
            "daemon",
        ],
    ),
];

/// The layers that are pure: no I/O crates, no clock.
const PURE: &[&str] = &["model", "pricing", "config", "analyse", "notify"];

/// Crates (or paths) only the named layers may use.
const OWNERS: &[(&str, &[&str])] = &[
    ("rusqlite", &["store"]),
    ("lettre", &["deliver"]),
    ("aws_config", &["source"]),
    ("aws_sdk_billing", &["source"]),
    ("aws_smithy_runtime_api", &["source"]),
    ("aws_smithy_types", &["source"]),
    ("aws_credential_types", &["source"]),
    // The daemon's listener, and the channels' HTTP client.
    ("hyper", &["daemon", "deliver"]),
    ("hyper_util", &["daemon", "deliver"]),
    ("hyper_rustls", &["deliver"]),
    ("http_body_util", &["daemon", "deliver"]),
    ("aws_sdk_sns", &["deliver"]),
    ("aws_sdk_s3", &["source"]),
    ("aws_sdk_athena", &["source"]),
    ("prometheus_client", &["daemon"]),
    // The export readers: files in, line items out.
    ("parquet", &["source"]),
    ("arrow_array", &["source"]),
    ("arrow_schema", &["source"]),
    ("csv", &["source"]),
    ("flate2", &["source"]),
    // The SDK's data types are plain data anyone may read; its client sends requests.
    ("aws_sdk_costexplorer::Client", &["source"]),
    ("aws_sdk_costexplorer", &["model", "analyse", "source"]),
];

/// What the pure layers never do.
const IMPURE: &[&str] = &[
    "tokio",
    "Utc::now",
    "Local::now",
    "SystemTime::now",
    "Instant::now",
    "std::fs",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::process",
    "std::env",
];

/// Only `cli` prints and exits (the crate root's test failpoint is the one exception).
const CLI_ONLY: &[&str] = &[
    "println!",
    "eprintln!",
    "print!(",
    "eprint!(",
    "process::exit",
    "process::abort",
    "anyhow",
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The code of a line: comments and string literals dropped, so that a word in a comment
/// or a message is not taken for a use.
fn code(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if !in_string => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `word` occurs in `code` as a path (not inside a longer identifier).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        !before.is_some_and(ident) && (word.ends_with(['!', '(']) || !after.is_some_and(ident))
    })
}

/// Every broken rule in `src/`, as `file:line: what`.
fn violations(src: &Path) -> Vec<String> {
    let allowed = |layer: &str| LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, a)| *a);
    let mut out = Vec::new();
    for file in files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let layer = match rel.components().count() {
            1 => "root",
            _ => rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap(),
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let mut in_failpoint = false;
        for (n, line) in text.lines().enumerate() {
            if layer == "root" && line.contains("fn failpoint(") {
                in_failpoint = true;
            } else if line == "}" {
                in_failpoint = false;
            }
            // Unit tests sit at the end of a file and may use what they like.
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            let code = code(line);
            let at = format!("src/{}:{}", rel.display(), n + 1);
            if layer != "root" {
                let may = allowed(layer)
                    .unwrap_or_else(|| panic!("{at}: src/{layer} is not a layer in LAYERS"));
                for (i, _) in code.match_indices("crate::") {
                    let used: String = code[i + 7..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let is_layer = LAYERS.iter().any(|(l, _)| *l == used);
                    if is_layer && used != layer && !may.contains(&used.as_str()) {
                        out.push(format!(
                            "{at}: {layer} uses crate::{used}, but {layer} may use only {:?}: {}",
                            may,
                            line.trim()
                        ));
                    }
                }
            }
            let mut owned = false;
            for (krate, owners) in OWNERS {
                if !owned && names(&code, krate) {
                    owned = true;
                    if !owners.contains(&layer) && layer != "cli" {
                        out.push(format!(
                            "{at}: {krate} belongs to {owners:?}, not {layer}: {}",
                            line.trim()
                        ));
                    }
                }
            }
            if PURE.contains(&layer) {
                for word in IMPURE {
                    if names(&code, word) {
                        out.push(format!(
                            "{at}: {layer} is pure and may not use {word}: {}",
                            line.trim()
                        ));
                    }
                }
            }
            if layer != "cli" {
                for word in CLI_ONLY {
                    if names(&code, word) && !in_failpoint {
                        out.push(format!(
                            "{at}: only cli prints, exits or uses anyhow ({word}): {}",
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_layers_depend_one_way_and_only_their_owners_touch_io() {
    let found = violations(&repo().join("src"));
    assert!(
        found.is_empty(),
        "{} layering rule{} broken (ARCHITECTURE.md, \"Layers\"):\n{}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        found.join("\n")
    );
}

#[test]
fn every_folder_of_src_is_a_layer() {
    for entry in std::fs::read_dir(repo().join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            assert!(
                LAYERS.iter().any(|(l, _)| *l == name),
                "src/{name} is not in LAYERS; say what it may use"
            );
        }
    }
}

#[test]
fn the_checker_sees_a_violation() {
    // A pure layer reaching into the store, printing and reading the clock: each caught.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("analyse")).unwrap();
    std::fs::write(
        src.join("analyse/bad.rs"),
        "use crate::store::cache::Cache; // a comment naming crate::daemon is fine\n\
         fn f() { println!(\"crate::cli in a string is fine\"); let _ = chrono::Utc::now(); }\n\
         #[cfg(test)]\nmod tests { fn g() { println!(\"tests may\"); } }\n",
    )
    .unwrap();
    let found = violations(&src);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("src/analyse/bad.rs:1: analyse uses crate::store"));
    assert!(found[1].contains("Utc::now") || found[2].contains("Utc::now"));
}

/// The module (`analyse::report`) of a file under `src/`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

/// Each module and the modules of this crate it names (tests excluded).
fn module_graph(src: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let files = files(src);
    let modules: Vec<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = std::collections::BTreeMap::new();
    for (file, module) in files.iter().zip(&modules) {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("\n#[cfg(test)]").next().unwrap();
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let mut deps = Vec::new();
        for line in text.lines() {
            let code = code(line);
            let mut refs: Vec<String> = Vec::new();
            for (prefix, base) in [("crate::", String::new()), ("super::", parent.to_string())] {
                for (i, _) in code.match_indices(prefix) {
                    let path: String = code[i + prefix.len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let full = if base.is_empty() {
                        path
                    } else {
                        format!("{base}::{path}")
                    };
                    refs.push(full);
                }
            }
            for r in refs {
                // The longest module the path starts with.
                let hit = modules
                    .iter()
                    .filter(|m| !m.is_empty())
                    .filter(|m| r == **m || r.starts_with(&format!("{m}::")))
                    .max_by_key(|m| m.len());
                if let Some(m) = hit {
                    if m != module && !module.starts_with(&format!("{m}::")) && !deps.contains(m) {
                        deps.push(m.clone());
                    }
                }
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

/// A cycle of modules, if there is one.
fn cycle(graph: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_itself_through_others() {
    let graph = module_graph(&repo().join("src"));
    assert!(graph.len() > 30, "{} modules read", graph.len());
    if let Some(c) = cycle(&graph) {
        panic!("modules import each other in a circle: {}", c.join(" -> "));
    }
}

#[test]
fn the_cycle_check_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("analyse")).unwrap();
    std::fs::write(src.join("analyse/a.rs"), "use crate::analyse::b::B;\n").unwrap();
    std::fs::write(src.join("analyse/b.rs"), "use super::a::A;\n").unwrap();
    std::fs::write(src.join("analyse/c.rs"), "use super::a::A;\n").unwrap();
    let c = cycle(&module_graph(&src)).expect("a circle");
    assert_eq!(c, ["analyse::a", "analyse::b", "analyse::a"]);
}
