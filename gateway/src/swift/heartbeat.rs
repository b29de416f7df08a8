//! `?heartbeat=on` on an SLO manifest PUT, as Swift answers it: `202 Accepted` at once, a
//! chunked body of single spaces (one at once, then one every [`YIELD_FREQUENCY`] while the
//! segments are checked) so that proxies and clients do not time the request out, then
//! `\r\n\r\n` and a report of the outcome (`Response Status`, `Etag` and `Last Modified` when
//! stored, `Response Body`, `Errors`) in text, JSON or XML after the `Accept` header.

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use meta_api::wire::ObjectRecord;

use super::large::SloFailure;
use super::router::Ctx;
use super::{ByteStream, Response, header, http_date, put_header, stream_body};
use crate::xml::escape as xml_escape;

/// Seconds between two heartbeat spaces (`/info` `slo.yield_frequency`).
pub const YIELD_FREQUENCY: u64 = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Xml,
}

/// The format of the report: JSON or XML when the `Accept` header asks for it, else text.
fn format(ctx: &Ctx) -> (Format, &'static str) {
    let accept = header(&ctx.headers, "accept").unwrap_or("");
    if accept.contains("application/json") {
        (Format::Json, "application/json")
    } else if accept.contains("application/xml") {
        (Format::Xml, "application/xml")
    } else if accept.contains("text/xml") {
        (Format::Xml, "text/xml")
    } else {
        (Format::Text, "text/plain")
    }
}

/// The 202 answer whose body beats while `work` runs, then reports its outcome.
pub fn answer(
    ctx: &Ctx,
    work: BoxFuture<'static, Result<(ObjectRecord, String), SloFailure>>,
) -> Response {
    let (fmt, content_type) = format(ctx);
    enum State {
        Start(BoxFuture<'static, Result<(ObjectRecord, String), SloFailure>>),
        Beating(BoxFuture<'static, Result<(ObjectRecord, String), SloFailure>>),
        Done,
    }
    let body = futures::stream::unfold(State::Start(work), move |state| async move {
        match state {
            State::Start(work) => Some((
                Ok::<_, crate::Error>(Bytes::from_static(b" ")),
                State::Beating(work),
            )),
            State::Beating(mut work) => {
                let tick = tokio::time::sleep(Duration::from_secs(YIELD_FREQUENCY));
                tokio::select! {
                    outcome = &mut work => {
                        let mut out = b"\r\n\r\n".to_vec();
                        out.extend_from_slice(report(fmt, outcome).as_bytes());
                        Some((Ok(Bytes::from(out)), State::Done))
                    }
                    _ = tick => Some((Ok(Bytes::from_static(b" ")), State::Beating(work))),
                }
            }
            State::Done => None,
        }
    });
    let body: ByteStream = Box::pin(body);
    let mut h = HeaderMap::new();
    put_header(&mut h, "content-type", content_type);
    let mut resp = http::Response::new(stream_body(body));
    *resp.status_mut() = StatusCode::ACCEPTED;
    *resp.headers_mut() = h;
    resp
}

/// The outcome as Swift's heartbeat report (`get_heartbeat_response_body`).
fn report(fmt: Format, outcome: Result<(ObjectRecord, String), SloFailure>) -> String {
    // (key, value) in Swift's key order (sorted), then the errors as (name, reason).
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    match outcome {
        Ok((rec, etag)) => {
            fields.push(("Etag", format!("\"{etag}\"")));
            fields.push(("Last Modified", http_date(rec.mtime_ms)));
            fields.push(("Response Body", String::new()));
            fields.push(("Response Status", "201 Created".to_string()));
        }
        Err(SloFailure::Problems(problems)) => {
            fields.push((
                "Response Body",
                "Bad Request\nThe server could not comply with the request since it is either \
                 malformed or otherwise incorrect."
                    .to_string(),
            ));
            fields.push(("Response Status", "400 Bad Request".to_string()));
            errors = problems
                .into_iter()
                .map(|p| match p.split_once(", ") {
                    Some((name, reason)) => (name.to_string(), reason.to_string()),
                    None => (p, String::new()),
                })
                .collect();
        }
        Err(SloFailure::Refused(e)) => {
            let reason = e.status.canonical_reason().unwrap_or("");
            let body = if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                "Unprocessable Entity\nUnable to process the contained instructions".to_string()
            } else if e.body.is_empty() || e.body.starts_with('<') {
                reason.to_string()
            } else {
                e.body
            };
            fields.push(("Response Body", body));
            fields.push(("Response Status", format!("{} {reason}", e.status.as_u16())));
        }
    }
    match fmt {
        Format::Json => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert(k.to_string(), serde_json::Value::String(v));
            }
            m.insert(
                "Errors".to_string(),
                serde_json::Value::Array(
                    errors
                        .into_iter()
                        .map(|(n, r)| serde_json::json!([n, r]))
                        .collect(),
                ),
            );
            serde_json::Value::Object(m).to_string()
        }
        Format::Xml => {
            let mut s = String::from("<upload>\n");
            for (k, v) in fields {
                let tag = k.replace(' ', "_").to_ascii_lowercase();
                s.push_str(&format!("<{tag}>{}</{tag}>\n", xml_escape(&v)));
            }
            s.push_str("<errors>\n");
            for (n, r) in errors {
                s.push_str(&format!(
                    "<object><name>{}</name><status>{}</status></object>\n",
                    xml_escape(&n),
                    xml_escape(&r)
                ));
            }
            s.push_str("</errors>\n</upload>\n");
            s
        }
        Format::Text => {
            let mut s = String::new();
            for (k, v) in fields {
                s.push_str(&format!("{k}: {v}\n"));
            }
            s.push_str("Errors:\n");
            for (n, r) in errors {
                s.push_str(&format!("{n}, {r}\n"));
            }
            s
        }
    }
}
