//! The bucket policy and public access block model: parsing, evaluation, the stored forms.
//! The operations that put and read them are in `bucket_policy`; the decision that runs a
//! policy for a request is in `access`.
//!
//! A policy is validated when it is put and kept verbatim in the container property
//! [`POLICY_PROP`]; [`Policy::evaluate`] runs it for every request (explicit Deny wins).
//! Supported: Effect Allow/Deny; Principal / NotPrincipal `*` or accounts (the account
//! name or `arn:aws:iam::ACCOUNT:root` / `...:user/ACCOUNT`); Action / NotAction and
//! Resource / NotResource with `*` and `?` wildcards; String*, Bool, Null and Numeric*
//! conditions (optionally `...IfExists`) on the request keys of `access::condition_context`.
//!
//! A condition on a key the request does not have holds, as AWS evaluates it, for the
//! `...IfExists` forms and the negated operators (`StringNotEquals`, `StringNotLike`,
//! `StringNotEqualsIgnoreCase`, `NumericNotEquals`) and fails for the others (`Null` tests
//! absence itself). Operators on keys Spread never provides (`IpAddress`/`NotIpAddress` on
//! `aws:SourceIp`, `Date*`, `Arn*`, `BinaryEquals`) cannot be evaluated: they fail closed, so a
//! Deny statement using one always applies and an Allow statement never does (where AWS, which
//! has those keys, would compare them).

use std::collections::BTreeMap;

pub use meta_api::settings::PublicAccessBlock;
use meta_api::wire::ContainerInfo;
use s3s::{S3Result, s3_error};
use serde_json::Value;

use super::caller::Caller;

/// The outcome of a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    NotApplicable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
    Null,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    /// A valid operator on keys Spread never provides.
    Unsupported,
}

impl Op {
    /// Whether the operator holds when the key is absent (AWS's negated matching operators).
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::NumericNotEquals
        )
    }
}

#[derive(Debug, Clone)]
struct Condition {
    op: Op,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    /// Principal patterns, and whether they are a NotPrincipal.
    principals: (Vec<String>, bool),
    actions: (Vec<String>, bool),
    resources: (Vec<String>, bool),
    conditions: Vec<Condition>,
}

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

fn malformed(msg: &str) -> s3s::S3Error {
    s3_error!(MalformedPolicy, "{msg}")
}

/// A string or a list of strings.
fn strings(v: &Value, what: &str) -> S3Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed(&format!("{what} must be strings")))
            })
            .collect(),
        _ => Err(malformed(&format!("{what} must be a string or a list"))),
    }
}

/// The element `name` or `Not{name}` of a statement (exactly one of them).
fn either<'a>(st: &'a serde_json::Map<String, Value>, name: &str) -> S3Result<(&'a Value, bool)> {
    let not = format!("Not{name}");
    match (st.get(name), st.get(&not)) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (Some(_), Some(_)) => Err(malformed(&format!("{name} and {not} together"))),
        (None, None) => Err(malformed(&format!("Missing required field {name}"))),
    }
}

fn parse_principal(v: &Value) -> S3Result<Vec<String>> {
    match v {
        Value::String(s) if s == "*" => Ok(vec!["*".to_string()]),
        Value::Object(m) if !m.is_empty() => {
            let mut out = Vec::new();
            for (k, v) in m {
                if k != "AWS" && k != "CanonicalUser" {
                    return Err(malformed("Invalid principal in policy"));
                }
                out.extend(strings(v, "Principal")?);
            }
            Ok(out)
        }
        _ => Err(malformed("Invalid principal in policy")),
    }
}

fn parse_op(name: &str) -> S3Result<(Op, bool)> {
    let (base, if_exists) = match name.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let base = base
        .strip_prefix("ForAnyValue:")
        .or_else(|| base.strip_prefix("ForAllValues:"))
        .unwrap_or(base);
    let op = match base {
        "StringEquals" => Op::StringEquals,
        "StringNotEquals" => Op::StringNotEquals,
        "StringEqualsIgnoreCase" => Op::StringEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase" => Op::StringNotEqualsIgnoreCase,
        "StringLike" => Op::StringLike,
        "StringNotLike" => Op::StringNotLike,
        "Bool" => Op::Bool,
        "Null" => Op::Null,
        "NumericEquals" => Op::NumericEquals,
        "NumericNotEquals" => Op::NumericNotEquals,
        "NumericLessThan" => Op::NumericLessThan,
        "NumericLessThanEquals" => Op::NumericLessThanEquals,
        "NumericGreaterThan" => Op::NumericGreaterThan,
        "NumericGreaterThanEquals" => Op::NumericGreaterThanEquals,
        // Valid operators on keys Spread does not provide (source IP, dates, ARNs): they
        // fail closed (see the module's comment).
        "IpAddress"
        | "NotIpAddress"
        | "DateEquals"
        | "DateNotEquals"
        | "DateLessThan"
        | "DateLessThanEquals"
        | "DateGreaterThan"
        | "DateGreaterThanEquals"
        | "ArnEquals"
        | "ArnNotEquals"
        | "ArnLike"
        | "ArnNotLike"
        | "BinaryEquals" => Op::Unsupported,
        _ => return Err(malformed(&format!("Invalid Condition type : {name}"))),
    };
    Ok((op, if_exists))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_conditions(v: &Value) -> S3Result<Vec<Condition>> {
    let Value::Object(ops) = v else {
        return Err(malformed("Condition must be an object"));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (op, if_exists) = parse_op(op_name)?;
        let Value::Object(keys) = keys else {
            return Err(malformed("Condition operator must map keys to values"));
        };
        for (key, values) in keys {
            let values = match values {
                Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| malformed("Invalid condition value"))?;
            out.push(Condition {
                op,
                if_exists,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

impl Policy {
    /// Parses and validates a policy document for `bucket`: every resource must be the
    /// bucket or objects in it.
    pub fn parse(doc: &str, bucket: &str) -> S3Result<Policy> {
        let v: Value = serde_json::from_str(doc)
            .map_err(|_| malformed("This policy contains invalid Json"))?;
        let Value::Object(top) = &v else {
            return Err(malformed("This policy contains invalid Json"));
        };
        if let Some(ver) = top.get("Version")
            && !matches!(ver.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(malformed("The policy must contain a valid version string"));
        }
        let list = match top.get("Statement") {
            Some(Value::Array(l)) if !l.is_empty() => l.clone(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            _ => return Err(malformed("Missing required field Statement")),
        };
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        let mut statements = Vec::new();
        for st in &list {
            let Value::Object(st) = st else {
                return Err(malformed("Statement must be an object"));
            };
            let allow = match st.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(malformed("Invalid effect")),
            };
            let (p, not_p) = either(st, "Principal")?;
            let principals = (parse_principal(p)?, not_p);
            let (a, not_a) = either(st, "Action")?;
            let actions = strings(a, "Action")?;
            if let Some(bad) = actions
                .iter()
                .find(|a| *a != "*" && !a.to_ascii_lowercase().starts_with("s3:"))
            {
                return Err(malformed(&format!("Policy has invalid action: {bad}")));
            }
            let (r, not_r) = either(st, "Resource")?;
            let resources = strings(r, "Resource")?;
            for res in &resources {
                let ok = res == &bucket_arn
                    || res
                        .strip_prefix(&bucket_arn)
                        .is_some_and(|rest| rest.starts_with('/'))
                    || (res.contains(['*', '?'])
                        && (glob(res, &bucket_arn, false)
                            || glob(res, &format!("{bucket_arn}/"), false)));
                if !ok {
                    return Err(malformed("Policy has invalid resource"));
                }
            }
            let conditions = match st.get("Condition") {
                Some(c) => parse_conditions(c)?,
                None => Vec::new(),
            };
            statements.push(Statement {
                allow,
                principals,
                actions: (actions, not_a),
                resources: (resources, not_r),
                conditions,
            });
        }
        Ok(Policy { statements })
    }

    /// Runs the policy for `caller` doing `action` on `resource`.
    pub fn evaluate(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &BTreeMap<String, String>,
    ) -> Decision {
        let mut allowed = false;
        for st in &self.statements {
            let p = st.principals.0.iter().any(|p| principal_matches(p, caller));
            let a = st.actions.0.iter().any(|pat| glob(pat, action, true));
            let r = st.resources.0.iter().any(|pat| glob(pat, resource, false));
            if p == st.principals.1 || a == st.actions.1 || r == st.resources.1 {
                continue;
            }
            if !st
                .conditions
                .iter()
                .all(|c| condition_holds(c, ctx, st.allow))
            {
                continue;
            }
            if !st.allow {
                return Decision::Deny;
            }
            allowed = true;
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }

    /// Whether a condition tests a key starting with `prefix` (lower-case), so the caller
    /// knows to fetch what that key needs (e.g. `s3:existingobjecttag/` needs the object).
    pub fn tests_key(&self, prefix: &str) -> bool {
        self.statements
            .iter()
            .flat_map(|st| &st.conditions)
            .any(|c| c.key.starts_with(prefix))
    }

    /// Whether an unconditional Allow is for everyone.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|st| {
            st.allow
                && st.conditions.is_empty()
                && (st.principals.1 || st.principals.0.iter().any(|p| p == "*"))
        })
    }
}

fn principal_matches(pattern: &str, caller: &Caller) -> bool {
    if pattern == "*" {
        return true;
    }
    let Caller::Account(account) = caller else {
        return false;
    };
    if pattern == account {
        return true;
    }
    match pattern.strip_prefix("arn:aws:iam::") {
        Some(rest) => {
            rest == format!("{account}:root")
                || rest
                    .rsplit_once(":user/")
                    .is_some_and(|(tenant, user)| user == account || tenant == account)
        }
        None => false,
    }
}

/// Whether condition `c` holds for a request of context `ctx`, in an Allow statement (`allow`)
/// or a Deny one.
fn condition_holds(c: &Condition, ctx: &BTreeMap<String, String>, allow: bool) -> bool {
    let value = ctx.get(&c.key);
    match c.op {
        Op::Null => {
            let want_null = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return value.is_none() == want_null;
        }
        // Fails closed: a Deny applies, an Allow does not.
        Op::Unsupported => return !allow,
        _ => {}
    }
    let Some(value) = value else {
        return c.if_exists || c.op.negated();
    };
    let num = |s: &str| s.trim().parse::<f64>().ok();
    let any = |f: &dyn Fn(&str) -> bool| c.values.iter().any(|v| f(v));
    match c.op {
        Op::StringEquals => any(&|v| v == value),
        Op::StringNotEquals => !any(&|v| v == value),
        Op::StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(value)),
        Op::StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(value)),
        Op::StringLike => any(&|v| glob(v, value, false)),
        Op::StringNotLike => !any(&|v| glob(v, value, false)),
        Op::Bool => any(&|v| v.eq_ignore_ascii_case(value)),
        Op::Null | Op::Unsupported => false,
        op => {
            let Some(x) = num(value) else { return false };
            any(&|v| {
                num(v).is_some_and(|y| match op {
                    Op::NumericEquals => x == y,
                    Op::NumericNotEquals => x != y,
                    Op::NumericLessThan => x < y,
                    Op::NumericLessThanEquals => x <= y,
                    Op::NumericGreaterThan => x > y,
                    _ => x >= y,
                })
            })
        }
    }
}

/// Wildcard match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The policy stored for a bucket (none if unset or unreadable).
pub fn stored(container: &ContainerInfo) -> Option<Policy> {
    let doc = container.settings.props.policy.as_ref()?;
    Policy::parse(doc, &container.name).ok()
}

/// The public access block of a bucket (all off when unset).
pub fn public_access_block(container: &ContainerInfo) -> PublicAccessBlock {
    container
        .settings
        .props
        .public_access_block
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alt() -> Caller {
        Caller::Account("alt".into())
    }

    fn eval(p: &Policy, caller: &Caller, action: &str, res: &str) -> Decision {
        p.evaluate(caller, action, res, &BTreeMap::new())
    }

    #[test]
    fn glob_wildcards() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", false));
        assert!(glob("s3:Get*", "s3:getobject", true));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "ac", false));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b", false));
        assert!(glob("*", "", false));
    }

    #[test]
    fn allow_public_read() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            "b",
        )
        .unwrap();
        assert!(p.is_public());
        let res = "arn:aws:s3:::b/k";
        assert_eq!(
            eval(&p, &Caller::Anonymous, "s3:GetObject", res),
            Decision::Allow
        );
        assert_eq!(
            eval(&p, &alt(), "s3:PutObject", res),
            Decision::NotApplicable
        );
        assert_eq!(
            eval(&p, &alt(), "s3:GetObject", "arn:aws:s3:::b"),
            Decision::NotApplicable
        );
    }

    #[test]
    fn deny_wins_and_principals() {
        let p = Policy::parse(
            r#"{"Statement":[
                {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
                {"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::alt:root"]},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .unwrap();
        let res = "arn:aws:s3:::b/k";
        assert_eq!(eval(&p, &alt(), "s3:DeleteObject", res), Decision::Deny);
        assert_eq!(
            eval(&p, &Caller::Account("x".into()), "s3:DeleteObject", res),
            Decision::Allow
        );
        assert_eq!(
            eval(&p, &alt(), "s3:ListBucket", "arn:aws:s3:::b"),
            Decision::Allow
        );
    }

    #[test]
    fn conditions() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::b/*",
                "Condition":{"StringLikeIfExists":{"aws:Referer":"http://www.example.com/*"}}}}"#,
            "b",
        )
        .unwrap();
        assert!(!p.is_public());
        let res = "arn:aws:s3:::b/k";
        let mut ctx = BTreeMap::new();
        assert_eq!(
            p.evaluate(&Caller::Anonymous, "s3:GetObject", res, &ctx),
            Decision::Allow
        );
        ctx.insert("aws:referer".into(), "http://evil/".into());
        assert_eq!(
            p.evaluate(&Caller::Anonymous, "s3:GetObject", res, &ctx),
            Decision::NotApplicable
        );
        ctx.insert("aws:referer".into(), "http://www.example.com/a".into());
        assert_eq!(
            p.evaluate(&Caller::Anonymous, "s3:GetObject", res, &ctx),
            Decision::Allow
        );
    }

    #[test]
    fn encryption_conditions_deny_unencrypted_puts_and_other_kms_keys() {
        // s3tests' test_bucket_policy_put_obj_enc, and the same with a KMS key id.
        let p = Policy::parse(
            r#"{"Statement":[
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
                 "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
                 "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::c/*",
                 "Condition":{"StringNotEqualsIfExists":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"testkey-1"}}}]}"#,
            "b",
        );
        // `c/*` is not this bucket's: refused at parse.
        assert!(p.is_err());
        let p = Policy::parse(
            r#"{"Statement":[
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
                 "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
                 "Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":"aws:kms"},
                              "StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"testkey-1"}}}]}"#,
            "b",
        )
        .unwrap();
        let res = "arn:aws:s3:::b/k";
        let who = Caller::Account("x".into());
        let ctx = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            p.evaluate(&who, "s3:PutObject", res, &ctx(&[])),
            Decision::Deny,
            "no encryption header"
        );
        assert_eq!(
            p.evaluate(
                &who,
                "s3:PutObject",
                res,
                &ctx(&[("s3:x-amz-server-side-encryption", "AES256")])
            ),
            Decision::NotApplicable
        );
        let kms = |id: &str| {
            ctx(&[
                ("s3:x-amz-server-side-encryption", "aws:kms"),
                ("s3:x-amz-server-side-encryption-aws-kms-key-id", id),
            ])
        };
        assert_eq!(
            p.evaluate(&who, "s3:PutObject", res, &kms("testkey-1")),
            Decision::NotApplicable
        );
        assert_eq!(
            p.evaluate(&who, "s3:PutObject", res, &kms("testkey-2")),
            Decision::Deny
        );
    }

    #[test]
    fn negated_operators_hold_on_a_missing_key_and_unprovided_keys_fail_closed() {
        let res = "arn:aws:s3:::b/k";
        let who = Caller::Account("x".into());
        let eval = |doc: &str, ctx: &[(&str, &str)]| {
            let p = Policy::parse(doc, "b").unwrap();
            let ctx = ctx
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>();
            p.evaluate(&who, "s3:PutObject", res, &ctx)
        };
        let statement = |effect: &str, op: &str, key: &str, value: &str| {
            format!(
                r#"{{"Statement":{{"Effect":"{effect}","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{{"{op}":{{"{key}":"{value}"}}}}}}}}"#
            )
        };
        let sse = "s3:x-amz-server-side-encryption";
        // The negated operators hold when the key is absent (AWS), the others do not.
        for op in [
            "StringNotEquals",
            "StringNotLike",
            "StringNotEqualsIgnoreCase",
            "NumericNotEquals",
        ] {
            assert_eq!(
                eval(&statement("Deny", op, sse, "AES256"), &[]),
                Decision::Deny,
                "{op} on a missing key"
            );
            assert_eq!(
                eval(&statement("Allow", op, sse, "AES256"), &[]),
                Decision::Allow,
                "{op} on a missing key"
            );
        }
        for op in ["StringEquals", "StringLike", "NumericEquals", "Bool"] {
            assert_eq!(
                eval(&statement("Deny", op, sse, "AES256"), &[]),
                Decision::NotApplicable,
                "{op} on a missing key"
            );
        }
        // Present, they compare as before.
        assert_eq!(
            eval(
                &statement("Deny", "StringNotEquals", sse, "AES256"),
                &[(sse, "AES256")]
            ),
            Decision::NotApplicable
        );
        assert_eq!(
            eval(
                &statement("Deny", "StringNotEquals", sse, "AES256"),
                &[(sse, "aws:kms")]
            ),
            Decision::Deny
        );
        // Keys Spread never provides: a Deny applies, an Allow does not, whatever the form.
        for op in [
            "IpAddress",
            "NotIpAddress",
            "IpAddressIfExists",
            "ArnNotEquals",
            "DateLessThan",
        ] {
            assert_eq!(
                eval(&statement("Deny", op, "aws:SourceIp", "10.0.0.0/8"), &[]),
                Decision::Deny,
                "Deny with {op}"
            );
            assert_eq!(
                eval(&statement("Allow", op, "aws:SourceIp", "10.0.0.0/8"), &[]),
                Decision::NotApplicable,
                "Allow with {op}"
            );
        }
    }

    #[test]
    fn malformed_policies() {
        for doc in [
            "not json",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"iam:Foo","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bogus":{"a":"b"}}}}"#,
        ] {
            let err = Policy::parse(doc, "b").unwrap_err();
            assert_eq!(err.code().as_str(), "MalformedPolicy", "{doc}");
        }
    }
}
