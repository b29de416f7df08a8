//! The policy document of a signed POST form (base64 JSON): its `expiration` and its
//! `conditions` (`{"field": "value"}`, `["eq", "$field", "value"]`,
//! `["starts-with", "$field", "prefix"]`, `["content-length-range", min, max]`), checked
//! against the form as AWS does. Condition field names and operators are case-insensitive,
//! values case-sensitive, the document's own keys (`expiration`, `conditions`) are not.
//!
//! An unreadable document is a bad request (400 `InvalidPolicyDocument`); a form the
//! document does not allow is denied (403 `AccessDenied`, "Invalid according to Policy").

use base64::Engine as _;
use s3s::{S3Error, S3ErrorCode, S3Result};
use serde_json::Value;
use time::OffsetDateTime;

/// Form fields no condition needs to cover.
const EXEMPT: [&str; 5] = [
    "policy",
    "x-amz-signature",
    "signature",
    "awsaccesskeyid",
    "file",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field` (lower case, without `$`) equals `value`.
    Eq { field: String, value: String },
    /// `field` starts with `prefix`.
    StartsWith { field: String, prefix: String },
    /// The file's size is within `min..=max`.
    LengthRange { min: u64, max: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub expiration: OffsetDateTime,
    pub conditions: Vec<Condition>,
}

impl Policy {
    /// Decodes and parses the `policy` field.
    pub fn parse(encoded: &str) -> S3Result<Policy> {
        let compact: String = encoded
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let json = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| invalid("Invalid Policy: Invalid base64 encoding."))?;
        let doc: Value =
            serde_json::from_slice(&json).map_err(|_| invalid("Invalid Policy: Invalid JSON."))?;
        let Value::Object(doc) = doc else {
            return Err(invalid("Invalid Policy: Invalid JSON."));
        };
        let expiration = match doc.get("expiration") {
            Some(Value::String(s)) => parse_time(s).ok_or_else(|| {
                invalid("Invalid Policy: Invalid 'expiration' value: must be ISO 8601 UTC.")
            })?,
            Some(_) => {
                return Err(invalid(
                    "Invalid Policy: Invalid 'expiration' value: must be a string.",
                ));
            }
            None => {
                return Err(invalid("Invalid Policy: Policy missing expiration."));
            }
        };
        let Some(Value::Array(list)) = doc.get("conditions") else {
            return Err(invalid("Invalid Policy: Policy missing conditions."));
        };
        let mut conditions = Vec::new();
        for c in list {
            parse_condition(c, &mut conditions)?;
        }
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// Checks the form (`fields`: lower-case names, the key already with `${filename}`
    /// replaced) sent to `bucket` at `now`. Returns the allowed file sizes.
    pub fn check(
        &self,
        now: OffsetDateTime,
        fields: &[(String, String)],
        bucket: &str,
    ) -> S3Result<(u64, u64)> {
        if now >= self.expiration {
            return Err(denied("Policy expired."));
        }
        let value = |field: &str| -> String {
            if field == "bucket" {
                return bucket.to_string();
            }
            fields
                .iter()
                .find(|(n, _)| n == field)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut range = (0, u64::MAX);
        for c in &self.conditions {
            match c {
                Condition::Eq { field, value: want } => {
                    if value(field) != *want {
                        return Err(failed(&format!("[\"eq\", \"${field}\", \"{want}\"]")));
                    }
                }
                Condition::StartsWith { field, prefix } => {
                    let got = value(field);
                    let ok = if field == "content-type" {
                        got.split(',')
                            .all(|t| t.trim_start().starts_with(prefix.as_str()))
                    } else {
                        got.starts_with(prefix.as_str())
                    };
                    if !ok {
                        return Err(failed(&format!(
                            "[\"starts-with\", \"${field}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::LengthRange { min, max } => {
                    range = (range.0.max(*min), range.1.min(*max));
                }
            }
        }
        let covered = |name: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field == name,
                Condition::LengthRange { .. } => false,
            })
        };
        if !covered("bucket") {
            return Err(denied(
                "Policy Condition failed: [\"eq\", \"$bucket\", ...] missing",
            ));
        }
        let mut extra: Vec<&str> = fields
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !EXEMPT.contains(n) && !n.starts_with("x-ignore-") && !covered(n))
            .collect();
        extra.dedup();
        if !extra.is_empty() {
            return Err(denied(&format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(range)
    }
}

/// One element of `conditions` (an object may hold several `eq` conditions).
fn parse_condition(c: &Value, out: &mut Vec<Condition>) -> S3Result<()> {
    match c {
        Value::Object(map) => {
            if map.is_empty() {
                return Err(invalid(
                    "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            }
            for (field, value) in map {
                let value = scalar(value).ok_or_else(|| {
                    invalid("Invalid Policy: Invalid Simple-Condition: value must be a string.")
                })?;
                out.push(Condition::Eq {
                    field: field.trim_start_matches('$').to_ascii_lowercase(),
                    value,
                });
            }
            Ok(())
        }
        Value::Array(items) => {
            let op = items
                .first()
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| invalid("Invalid Policy: Invalid condition: no operation."))?;
            match op.as_str() {
                "eq" | "starts-with" => {
                    let [_, Value::String(field), value] = items.as_slice() else {
                        return Err(invalid(&format!(
                            "Invalid Policy: Invalid '{op}' condition: it takes a field and a value."
                        )));
                    };
                    let Some(field) = field.strip_prefix('$') else {
                        return Err(invalid(&format!(
                            "Invalid Policy: Invalid '{op}' condition: the field must start with '$'."
                        )));
                    };
                    let value = scalar(value).ok_or_else(|| {
                        invalid("Invalid Policy: Invalid condition: value must be a string.")
                    })?;
                    let field = field.to_ascii_lowercase();
                    out.push(if op == "eq" {
                        Condition::Eq { field, value }
                    } else {
                        Condition::StartsWith {
                            field,
                            prefix: value,
                        }
                    });
                    Ok(())
                }
                "content-length-range" => {
                    let bad = || {
                        invalid(
                            "Invalid Policy: Invalid content-length-range: it takes a minimum and a maximum, both non-negative integers.",
                        )
                    };
                    let [_, min, max] = items.as_slice() else {
                        return Err(bad());
                    };
                    let (Some(min), Some(max)) = (length(min), length(max)) else {
                        return Err(bad());
                    };
                    if min > max {
                        return Err(bad());
                    }
                    out.push(Condition::LengthRange { min, max });
                    Ok(())
                }
                _ => Err(invalid(&format!(
                    "Invalid Policy: Invalid condition: unknown operation '{op}'."
                ))),
            }
        }
        _ => Err(invalid("Invalid Policy: Invalid condition.")),
    }
}

/// A condition value: a string, or a number or boolean written as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A bound of content-length-range: a non-negative integer, or one written as a string.
fn length(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// ISO 8601 in UTC: `2026-12-06T12:00:00.000Z`, with or without fractions of a second.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    // RFC 3339 also allows a space between date and time, and other offsets; ISO 8601 UTC
    // as AWS takes it does not.
    if s.as_bytes().get(10) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidPolicyDocument, msg.to_string())
}

fn denied(msg: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {msg}"),
    )
}

fn failed(condition: &str) -> S3Error {
    denied(&format!("Policy Condition failed: {condition}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn code(r: S3Result<impl std::fmt::Debug>) -> S3ErrorCode {
        r.expect_err("an error").code().clone()
    }

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn now() -> OffsetDateTime {
        parse_time(NOW).unwrap()
    }

    #[test]
    fn parses_conditions() {
        let p = Policy::parse(&encode(
            r#"{"expiration": "2026-12-06T12:00:00.000Z", "conditions": [
                {"bUcKeT": "b"}, ["StArTs-WiTh", "$KeY", "foo"], ["eq", "$acl", "private"],
                ["content-length-range", 1, "1024"]]}"#,
        ))
        .unwrap();
        assert_eq!(p.expiration, parse_time("2026-12-06T12:00:00Z").unwrap());
        assert_eq!(
            p.conditions,
            vec![
                Condition::Eq {
                    field: "bucket".into(),
                    value: "b".into()
                },
                Condition::StartsWith {
                    field: "key".into(),
                    prefix: "foo".into()
                },
                Condition::Eq {
                    field: "acl".into(),
                    value: "private".into()
                },
                Condition::LengthRange { min: 1, max: 1024 },
            ]
        );
    }

    #[test]
    fn unreadable_policies_are_invalid() {
        for doc in [
            "not json",
            r#"{"conditions": []}"#,
            r#"{"expiration": "2026-12-06 12:00:00.000+00:00", "conditions": []}"#,
            r#"{"expiration": "2026-12-06 12:00:00.000Z", "conditions": []}"#,
            r#"{"expiration": "2026-12-06T12:00:00+01:00", "conditions": []}"#,
            r#"{"EXPIRATION": "2026-12-06T12:00:00Z", "conditions": []}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z"}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "CONDITIONS": []}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [{}]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [["content-length-range", 0]]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [["content-length-range", -1, 0]]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [["content-length-range", 5, 1]]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [["eq", "key", "a"]]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": [["in", "$key", "a"]]}"#,
            r#"{"expiration": "2026-12-06T12:00:00Z", "conditions": ["key"]}"#,
        ] {
            assert_eq!(
                code(Policy::parse(&encode(doc))),
                S3ErrorCode::InvalidPolicyDocument,
                "{doc}"
            );
        }
        assert_eq!(
            code(Policy::parse("%%%")),
            S3ErrorCode::InvalidPolicyDocument
        );
    }

    fn policy(conditions: &str) -> Policy {
        Policy::parse(&encode(&format!(
            r#"{{"expiration": "2026-12-06T12:00:00Z", "conditions": [{conditions}]}}"#
        )))
        .unwrap()
    }

    #[test]
    fn conditions_are_checked() {
        let p = policy(
            r#"{"bucket": "b"}, ["starts-with", "$key", "foo"], {"acl": "private"},
               ["starts-with", "$Content-Type", "text/"], ["content-length-range", 0, 1024],
               ["content-length-range", 10, 2048]"#,
        );
        let ok = fields(&[
            ("key", "foo.txt"),
            ("acl", "private"),
            ("content-type", "text/plain, text/html"),
            ("awsaccesskeyid", "AK"),
            ("signature", "s"),
            ("policy", "p"),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(p.check(now(), &ok, "b").unwrap(), (10, 1024));
        // The addressed bucket, not a form field, meets the bucket condition.
        assert_eq!(
            code(p.check(now(), &ok, "other")),
            S3ErrorCode::AccessDenied
        );
        let mut bad = ok.clone();
        bad[0].1 = "bar.txt".into();
        assert_eq!(code(p.check(now(), &bad, "b")), S3ErrorCode::AccessDenied);
        let mut bad = ok.clone();
        bad[1].1 = "PRIVATE".into();
        assert_eq!(code(p.check(now(), &bad, "b")), S3ErrorCode::AccessDenied);
        let mut bad = ok.clone();
        bad[2].1 = "text/plain, image/png".into();
        assert_eq!(code(p.check(now(), &bad, "b")), S3ErrorCode::AccessDenied);
        // A field no condition covers.
        let mut bad = ok.clone();
        bad.push(("x-amz-meta-foo".into(), "bar".into()));
        assert_eq!(code(p.check(now(), &bad, "b")), S3ErrorCode::AccessDenied);
        // A condition on a field the form does not have.
        let p2 = policy(r#"{"bucket": "b"}, ["starts-with", "$x-amz-meta-foo", "bar"]"#);
        assert_eq!(code(p2.check(now(), &[], "b")), S3ErrorCode::AccessDenied);
        let p3 = policy(r#"{"bucket": "b"}, ["starts-with", "$tagging", ""]"#);
        assert!(p3.check(now(), &[], "b").is_ok());
        // No bucket condition.
        let p4 = policy(r#"["starts-with", "$key", ""]"#);
        assert_eq!(
            code(p4.check(now(), &fields(&[("key", "k")]), "b")),
            S3ErrorCode::AccessDenied
        );
        // Expired.
        let late = parse_time("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(code(p.check(late, &ok, "b")), S3ErrorCode::AccessDenied);
    }
}
