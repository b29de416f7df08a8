//! Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration. The rules are
//! validated as AWS does and kept as the bucket's typed `lifecycle` setting (through the
//! generic path of `settings`): meta's protocol-neutral [`Rule`]s, which meta's lifecycle
//! worker applies, with the S3 XML they came from (what GET answers). (The `x-amz-expiration`
//! header PUT/GET/HEAD compute from those rules is `convert::expiration_header`.)

use std::collections::BTreeSet;

use meta_api::settings::{ContainerProps, Lifecycle, SettingChange};
use meta_api::wire::LifecycleRule as Rule;
use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

use super::access::Access;
use super::convert::DAY_MS;
use super::error::s3err;
use super::settings::{BucketSetting, FromInput, ToOutput};
use crate::error::Error;
/// At most this many rules (AWS's limit).
const MAX_RULES: usize = 1000;
const MAX_ID_LEN: usize = 255;

fn to_xml(config: &BucketLifecycleConfiguration) -> S3Result<String> {
    let mut out = Vec::new();
    let mut ser = s3s::xml::Serializer::new(&mut out);
    s3s::xml::Serialize::serialize(config, &mut ser)
        .map_err(|e| s3err(Error::Internal(format!("lifecycle to XML: {e:?}"))))?;
    String::from_utf8(out).map_err(|e| s3err(Error::Internal(e.to_string())))
}

fn from_xml(xml: &str) -> Option<BucketLifecycleConfiguration> {
    let mut de = s3s::xml::Deserializer::new(xml.as_bytes());
    s3s::xml::Deserialize::deserialize(&mut de).ok()
}

fn positive(days: Option<i32>, what: &str) -> S3Result<Option<u64>> {
    match days {
        None => Ok(None),
        Some(d) if d > 0 => Ok(Some(d as u64)),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "'{what}' must be a positive integer"
        )),
    }
}

/// The prefix a key must have to start with every one of `prefixes` (`MalformedXML` when no key
/// can).
fn longest_prefix<'a>(prefixes: impl IntoIterator<Item = Option<&'a str>>) -> S3Result<String> {
    let mut out = String::new();
    for p in prefixes.into_iter().flatten() {
        if p.starts_with(out.as_str()) {
            out = p.to_string();
        } else if !out.starts_with(p) {
            return Err(s3_error!(
                MalformedXML,
                "A lifecycle filter has two prefixes no key can match together"
            ));
        }
    }
    Ok(out)
}

/// Unix ms of a rule's Date, which must be a midnight UTC (`MalformedXML` otherwise, as Ceph
/// RGW answers; botocore turns a date such as `20200101` into seconds since the epoch).
fn midnight(d: &Timestamp) -> S3Result<i64> {
    let ms = super::convert::millis(d);
    if ms.rem_euclid(DAY_MS) != 0 {
        return Err(s3_error!(MalformedXML, "'Date' must be at midnight GMT"));
    }
    Ok(ms)
}

/// A random rule id for a rule sent without one (as AWS does).
fn new_id() -> String {
    crate::objects::random_hex(24)
}

/// Checks one S3 rule and turns it into meta's rule (filling in a missing ID in `rule`).
fn convert(rule: &mut LifecycleRule) -> S3Result<Rule> {
    let id = match rule.id.as_deref() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            let id = new_id();
            rule.id = Some(id.clone());
            id
        }
    };
    if id.chars().count() > MAX_ID_LEN {
        return Err(s3_error!(
            InvalidArgument,
            "ID length should not exceed allowed limit of 255"
        ));
    }
    let enabled = match rule.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
    };
    for t in rule.transitions.iter().flatten() {
        if let Some(d) = &t.date {
            midnight(d)?;
        }
    }
    if rule
        .transitions
        .as_ref()
        .is_some_and(|t: &TransitionList| !t.is_empty())
        || rule
            .noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Lifecycle transitions are not supported: this server has a single storage tier per policy"
        ));
    }
    let mut out = Rule {
        id,
        enabled,
        ..Default::default()
    };
    if let Some(f) = &rule.filter {
        if rule.prefix.is_some() {
            return Err(s3_error!(
                MalformedXML,
                "A rule cannot have both a Prefix and a Filter"
            ));
        }
        // AWS wants one of Prefix, Tag or And; like Ceph RGW, a filter with several is taken
        // as all of them together.
        let and = f.and.clone().unwrap_or_default();
        out.prefix = longest_prefix([f.prefix.as_deref(), and.prefix.as_deref()])?;
        for t in f.tag.iter().chain(and.tags.iter().flatten()) {
            let (k, v) = (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            );
            if out.tags.insert(k, v.clone()).is_some_and(|old| old != v) {
                return Err(s3_error!(
                    MalformedXML,
                    "A lifecycle filter names the same tag key with two values"
                ));
            }
        }
        let above = [f.object_size_greater_than, and.object_size_greater_than];
        out.size_greater_than = above.into_iter().flatten().max().map(|n| n.max(0) as u64);
        let below = [f.object_size_less_than, and.object_size_less_than];
        out.size_less_than = below.into_iter().flatten().min().map(|n| n.max(0) as u64);
    } else {
        out.prefix = rule.prefix.clone().unwrap_or_default();
    }
    let mut actions = 0;
    if let Some(e) = &rule.expiration {
        let marker = e.expired_object_delete_marker.unwrap_or(false);
        let n = usize::from(e.days.is_some()) + usize::from(e.date.is_some()) + usize::from(marker);
        if n != 1 {
            return Err(s3_error!(
                MalformedXML,
                "Expiration takes exactly one of Days, Date or ExpiredObjectDeleteMarker"
            ));
        }
        out.expiration_days = positive(e.days, "Days")?;
        if let Some(d) = &e.date {
            out.expiration_date_ms = Some(midnight(d)?);
        }
        out.expired_object_delete_marker = marker;
        actions += 1;
    }
    if let Some(n) = &rule.noncurrent_version_expiration {
        out.noncurrent_days = positive(n.noncurrent_days, "NoncurrentDays")?;
        out.newer_noncurrent_versions = n.newer_noncurrent_versions.map(|v| v.max(0) as u64);
        if out.noncurrent_days.is_none() {
            return Err(s3_error!(
                MalformedXML,
                "NoncurrentVersionExpiration needs NoncurrentDays"
            ));
        }
        actions += 1;
    }
    if let Some(a) = &rule.abort_incomplete_multipart_upload {
        out.abort_multipart_days = positive(a.days_after_initiation, "DaysAfterInitiation")?;
        if out.abort_multipart_days.is_none() {
            return Err(s3_error!(
                MalformedXML,
                "AbortIncompleteMultipartUpload needs DaysAfterInitiation"
            ));
        }
        actions += 1;
    }
    if actions == 0 {
        return Err(s3_error!(
            InvalidRequest,
            "At least one action needs to be specified in a rule"
        ));
    }
    Ok(out)
}

/// Validates a configuration; returns meta's rules (IDs filled into `config`).
fn rules_of(config: &mut BucketLifecycleConfiguration) -> S3Result<Vec<Rule>> {
    if config.rules.is_empty() || config.rules.len() > MAX_RULES {
        return Err(s3_error!(
            MalformedXML,
            "A lifecycle configuration must have between 1 and 1000 rules"
        ));
    }
    let mut ids = BTreeSet::new();
    let mut rules = Vec::new();
    for rule in config.rules.iter_mut() {
        let r = convert(rule)?;
        if !ids.insert(r.id.clone()) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
        rules.push(r);
    }
    Ok(rules)
}

/// The bucket sub-resource `?lifecycle`.
pub struct BucketLifecycle;

impl BucketSetting for BucketLifecycle {
    type Value = Lifecycle;

    fn read(props: &ContainerProps) -> Option<&Lifecycle> {
        props.lifecycle.as_ref()
    }

    fn change(value: Option<Lifecycle>) -> SettingChange {
        SettingChange::Lifecycle(value)
    }

    fn missing() -> S3Error {
        s3_error!(
            NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist"
        )
    }
}

impl FromInput<PutBucketLifecycleConfigurationInput> for BucketLifecycle {
    fn from_input(_: &Access, input: PutBucketLifecycleConfigurationInput) -> S3Result<Lifecycle> {
        let Some(mut config) = input.lifecycle_configuration else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        let rules = rules_of(&mut config)?;
        Ok(Lifecycle {
            rules,
            document: to_xml(&config)?,
        })
    }
}

impl ToOutput<GetBucketLifecycleConfigurationOutput> for BucketLifecycle {
    fn to_output(
        _: &Access,
        lifecycle: &Lifecycle,
    ) -> S3Result<GetBucketLifecycleConfigurationOutput> {
        // Rules set by another front end have no S3 document.
        let config = from_xml(&lifecycle.document).ok_or_else(Self::missing)?;
        Ok(GetBucketLifecycleConfigurationOutput {
            rules: Some(config.rules),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: Option<&str>, status: &str, days: Option<i32>) -> LifecycleRule {
        LifecycleRule {
            id: id.map(str::to_string),
            status: ExpirationStatus::from(status.to_string()),
            prefix: Some("p/".to_string()),
            expiration: Some(LifecycleExpiration {
                days,
                ..Default::default()
            }),
            abort_incomplete_multipart_upload: None,
            filter: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            transitions: None,
        }
    }

    fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
        BucketLifecycleConfiguration { rules }
    }

    #[test]
    fn validation() {
        let mut c = config(vec![rule(None, "Enabled", Some(1))]);
        let rules = rules_of(&mut c).unwrap();
        assert_eq!(rules[0].prefix, "p/");
        assert_eq!(rules[0].expiration_days, Some(1));
        assert_eq!(c.rules[0].id.as_deref(), Some(rules[0].id.as_str()));
        let code = |mut c: BucketLifecycleConfiguration| {
            rules_of(&mut c).unwrap_err().code().as_str().to_string()
        };
        assert_eq!(
            code(config(vec![rule(Some("a"), "on", Some(1))])),
            "MalformedXML"
        );
        assert_eq!(
            code(config(vec![rule(Some("a"), "Enabled", Some(0))])),
            "InvalidArgument"
        );
        let long = "x".repeat(256);
        assert_eq!(
            code(config(vec![rule(Some(&long), "Enabled", Some(1))])),
            "InvalidArgument"
        );
        assert_eq!(
            code(config(vec![
                rule(Some("a"), "Enabled", Some(1)),
                rule(Some("a"), "Enabled", Some(2))
            ])),
            "InvalidArgument"
        );
        let mut r = rule(Some("f"), "Enabled", Some(1));
        r.prefix = None;
        r.filter = Some(LifecycleRuleFilter {
            prefix: Some("days1/".into()),
            tag: Some(Tag {
                key: Some("tom".into()),
                value: Some("sawyer".into()),
            }),
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("days1".into()),
                tags: Some(vec![Tag {
                    key: Some("huck".into()),
                    value: Some("finn".into()),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let combined = rules_of(&mut config(vec![r.clone()])).unwrap();
        assert_eq!(combined[0].prefix, "days1/");
        assert_eq!(combined[0].tags.len(), 2);
        if let Some(f) = r.filter.as_mut() {
            f.prefix = Some("other/".into());
        }
        assert_eq!(code(config(vec![r])), "MalformedXML");
        let xml = to_xml(&c).unwrap();
        assert_eq!(from_xml(&xml).unwrap().rules.len(), 1);
    }
}
