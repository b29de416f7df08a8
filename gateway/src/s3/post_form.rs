//! Browser form uploads (POST object). s3s parses the form, checks the policy document and
//! its signature, and calls `put_object`; what differs from AWS is adjusted here.
//!
//! A form that breaks a condition of its own (correctly signed) policy is refused by s3s with
//! 400 `InvalidPolicyDocument`; AWS answers 403 `AccessDenied` ("Invalid according to
//! Policy"), keeping 400 for a policy it cannot read. [`policy_failure_as_denied`] turns the
//! first into the second after s3s has answered, for signed forms only: a form with a policy
//! but no signature is a bad request (400) whatever its conditions.
//!
//! After a `success_action_redirect`, AWS puts the ETag in the redirect's query quoted, as
//! everywhere else (`etag=%22…%22`); s3s leaves the quotes out ([`quote_redirect_etag`]).

use s3s::{S3Error, S3ErrorCode};

/// The start of the messages s3s gives a failed `eq` / `starts-with` condition.
const CONDITION_FAILED: &str = "Policy condition";

/// Rewrites the answer to a POST whose form broke a policy condition into 403 AccessDenied.
pub fn policy_failure_as_denied(resp: &mut http::Response<s3s::Body>) {
    if resp.status() != http::StatusCode::BAD_REQUEST {
        return;
    }
    let Some(body) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return;
    };
    if !text.contains("<Code>InvalidPolicyDocument</Code>")
        || !text.contains(&format!("<Message>{CONDITION_FAILED}"))
    {
        return;
    }
    let detail = text
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map_or("", |(m, _)| m);
    let err = S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {}", unescape(detail)),
    );
    if let Ok(denied) = err.to_http_response() {
        *resp = denied;
    }
}

/// Quotes the `etag` parameter of the `Location` of a 303 answer to a form upload.
pub fn quote_redirect_etag(resp: &mut http::Response<s3s::Body>) {
    if resp.status() != http::StatusCode::SEE_OTHER {
        return;
    }
    let Some(location) = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let Some((url, query)) = location.split_once('?') else {
        return;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.strip_prefix("etag=") {
            Some(v) if !v.is_empty() && !v.starts_with("%22") => format!("etag=%22{v}%22"),
            _ => pair.to_string(),
        })
        .collect();
    if let Ok(v) = http::HeaderValue::from_str(&format!("{url}?{}", query.join("&"))) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
}

/// XML text back to plain text (the message is escaped again when the error is written).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(err: S3Error) -> http::Response<s3s::Body> {
        err.to_http_response().unwrap()
    }

    #[test]
    fn failed_conditions_become_access_denied() {
        let mut resp = answer(S3Error::with_message(
            S3ErrorCode::InvalidPolicyDocument,
            "Policy condition 'eq' for field 'x-amz-meta-foo' failed: expected '', got 'bar'",
        ));
        policy_failure_as_denied(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::FORBIDDEN);
        let body = resp.body().bytes().unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
        assert!(
            text.contains("Invalid according to Policy: Policy condition"),
            "{text}"
        );
    }

    #[test]
    fn redirect_etags_are_quoted() {
        let mut resp = http::Response::new(s3s::Body::empty());
        *resp.status_mut() = http::StatusCode::SEE_OTHER;
        resp.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("http://h/b?x=1&bucket=b&key=foo.txt&etag=abc"),
        );
        quote_redirect_etag(&mut resp);
        assert_eq!(
            resp.headers()[http::header::LOCATION],
            "http://h/b?x=1&bucket=b&key=foo.txt&etag=%22abc%22"
        );
    }

    #[test]
    fn unreadable_policies_stay_bad_requests() {
        let mut resp = answer(S3Error::with_message(
            S3ErrorCode::InvalidPolicyDocument,
            "failed to parse POST policy",
        ));
        policy_failure_as_denied(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::BAD_REQUEST);
    }
}
