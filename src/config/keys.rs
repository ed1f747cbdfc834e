//! Unknown keys, collected with their full path and a suggestion, before the file is
//! deserialized (serde's `deny_unknown_fields` stops at the first). The keys each table
//! may hold are read from the `Raw*` structs themselves, so they cannot drift apart.

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::Problem;

/// The field names `T` deserializes, read by running its `Deserialize` against a
/// deserializer that only records them.
pub(super) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(Introspect) {
        Err(Stop(Some(fields))) => fields,
        _ => &[],
    }
}

#[derive(Debug)]
struct Stop(Option<&'static [&'static str]>);

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("introspection")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop(None)
    }
}

struct Introspect;

impl<'de> Deserializer<'de> for Introspect {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(Stop(Some(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// Where a table sits and the keys it may hold; `children` are its sub-tables.
pub(super) struct Shape {
    pub fields: &'static [&'static str],
    pub children: Vec<(&'static str, Child)>,
}

pub(super) enum Child {
    Table(Shape),
    /// An array of tables, each element named by `name` (the key whose value names it,
    /// like an award's `id`) when it has one, else by its index.
    Array {
        name: Option<&'static str>,
        shape: Shape,
    },
}

/// Removes every key `shape` does not know from `table`, returning a problem for each.
pub(super) fn take_unknown(table: &mut toml::Table, shape: &Shape, path: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let unknown: Vec<String> = table
        .keys()
        .filter(|k| !shape.fields.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in unknown {
        table.remove(&k);
        let key = join(path, &k);
        let message = match suggest(&k, shape.fields) {
            Some(s) => format!(
                "is not a key creditburn knows; did you mean `{}`?",
                join(path, s)
            ),
            None => format!(
                "is not a key creditburn knows here (it knows: {})",
                shape.fields.join(", ")
            ),
        };
        problems.push(Problem { key, message });
    }
    for (name, child) in &shape.children {
        match (child, table.get_mut(*name)) {
            (Child::Table(shape), Some(toml::Value::Table(t))) => {
                problems.extend(take_unknown(t, shape, &join(path, name)));
            }
            (Child::Array { name: by, shape }, Some(toml::Value::Array(items))) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let toml::Value::Table(t) = item {
                        let label = by
                            .and_then(|k| t.get(k))
                            .and_then(|v| v.as_str())
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| format!("{:?}", s))
                            .unwrap_or_else(|| i.to_string());
                        problems.extend(take_unknown(
                            t,
                            shape,
                            &format!("{}[{label}]", join(path, name)),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The known key closest to `key`, when it is close enough to be a typo.
fn suggest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key() {
        let known = ["slack_days", "thresholds", "recipients"];
        assert_eq!(suggest("slack_day", &known), Some("slack_days"));
        assert_eq!(suggest("recipents", &known), Some("recipients"));
        assert_eq!(suggest("colour", &known), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
