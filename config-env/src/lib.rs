//! Every config key of a process can be set by an environment variable: `PREFIX` + the key in
//! capitals (`SPREAD_CHUNKD_SCRUB_MIB_PER_SEC=8` sets chunkd's `scrub_mib_per_sec`). The value
//! is read as a TOML value (`8`, `true`, `["a:1", "b:2"]`, `"1"`); one that is not a TOML value
//! is taken as a string (`SPREAD_CHUNKD_LOCATION=rack1.host2`), so a string that looks like a
//! number or a boolean must be quoted. The config then goes through its own deserializer, so
//! an unknown key or a wrong type stops the process as in a file, naming the variable.
//!
//! Written here rather than taken from a crate (figment, config) because those layer whole
//! sources with their own naming rules; Spread needs only this one overlay on its serde types,
//! with its existing unknown-key strictness, and no new dependency for the three processes.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `config` with every variable of `vars` named `prefix` + KEY set on key `key` (lowercase),
/// except the names in `skip` (variables with that prefix that are not config keys, or that
/// the process reads in a format of its own).
pub fn overlay<T, I>(config: T, prefix: &str, skip: &[&str], vars: I) -> Result<T, String>
where
    T: Serialize + DeserializeOwned,
    I: IntoIterator<Item = (String, String)>,
{
    let mut table = toml::Table::try_from(&config)
        .map_err(|e| format!("the config cannot be written as TOML: {e}"))?;
    let mut used = Vec::new();
    for (name, raw) in vars {
        let Some(key) = name.strip_prefix(prefix) else {
            continue;
        };
        if key.is_empty() || skip.contains(&name.as_str()) {
            continue;
        }
        table.insert(key.to_ascii_lowercase(), value(&raw));
        used.push(name);
    }
    if used.is_empty() {
        return Ok(config);
    }
    used.sort();
    T::deserialize(toml::Value::Table(table)).map_err(|e| {
        format!(
            "bad config from the environment ({}): {}",
            used.join(", "),
            e.to_string().trim()
        )
    })
}

/// [`overlay`] with the process's environment.
pub fn from_env<T>(config: T, prefix: &str, skip: &[&str]) -> Result<T, String>
where
    T: Serialize + DeserializeOwned,
{
    overlay(config, prefix, skip, std::env::vars())
}

/// `raw` as a TOML value, or as a string when it is not one.
fn value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct C {
        listen: String,
        rate: u64,
        on: bool,
        location: String,
        peers: Vec<String>,
        file: Option<String>,
    }

    impl Default for C {
        fn default() -> Self {
            C {
                listen: "127.0.0.1:1".into(),
                rate: 5,
                on: false,
                location: "a".into(),
                peers: vec![],
                file: None,
            }
        }
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_key_from_a_variable() {
        let c = overlay(
            C::default(),
            "P_",
            &["P_CONFIG"],
            vars(&[
                ("P_LISTEN", "10.0.0.1:7000"),
                ("P_RATE", "8"),
                ("P_ON", "true"),
                ("P_LOCATION", "\"1\""),
                ("P_PEERS", "[\"a:1\", \"b:2\"]"),
                ("P_FILE", "/etc/x"),
                ("P_CONFIG", "/etc/p.toml"),
                ("OTHER_RATE", "9"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c,
            C {
                listen: "10.0.0.1:7000".into(),
                rate: 8,
                on: true,
                location: "1".into(),
                peers: vec!["a:1".into(), "b:2".into()],
                file: Some("/etc/x".into()),
            }
        );
        assert_eq!(
            overlay(C::default(), "P_", &[], vars(&[])).unwrap(),
            C::default()
        );
    }

    #[test]
    fn an_unknown_key_or_a_wrong_type_names_the_variable() {
        let e = overlay(C::default(), "P_", &[], vars(&[("P_RAET", "8")])).unwrap_err();
        assert!(e.contains("P_RAET") && e.contains("raet"), "{e}");
        let e = overlay(C::default(), "P_", &[], vars(&[("P_RATE", "fast")])).unwrap_err();
        assert!(e.contains("P_RATE"), "{e}");
    }
}
