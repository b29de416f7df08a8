//! Bulk delete (`POST` or `DELETE` on the account with `?bulk-delete`): the body lists
//! URL-encoded `/container/object` or `/container` paths, one per line; the answer reports how
//! many were deleted, not found, and the errors, in text or JSON (`Accept`), always with 200
//! as Swift does. The same report answers `?multipart-manifest=delete` of an SLO. Paths in
//! the errors are URL-encoded, as Swift writes them: a name may hold any UTF-8, newlines too.

use http::{HeaderMap, StatusCode};

use super::error::{SwiftError, SwiftResult};
use super::router::{Ctx, Swift, account_container};
use super::{Response, header, put_header, respond};

/// Most paths one request may list, and most failures before the rest is skipped.
pub const MAX_DELETES: usize = 10_000;
pub const MAX_FAILED: usize = 1_000;
/// Longest accepted body (10,000 paths of up to 1 KiB each, encoded).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Outcome of a multi-delete.
#[derive(Default)]
pub struct Report {
    pub deleted: u64,
    pub not_found: u64,
    /// (path, status line)
    pub errors: Vec<(String, String)>,
}

impl Report {
    /// The 200 answer carrying the report, JSON when the client accepts it.
    pub fn answer(&self, ctx: &Ctx) -> Response {
        let json = header(&ctx.headers, "accept").is_some_and(|a| a.contains("application/json"));
        let status = if self.errors.is_empty() {
            "200 OK"
        } else {
            "400 Bad Request"
        };
        let mut h = HeaderMap::new();
        let body = if json {
            put_header(&mut h, "content-type", "application/json; charset=utf-8");
            serde_json::json!({
                "Number Deleted": self.deleted,
                "Number Not Found": self.not_found,
                "Response Body": "",
                "Response Status": status,
                "Errors": self.errors.iter().map(|(p, e)| [p.as_str(), e.as_str()]).collect::<Vec<_>>(),
            })
            .to_string()
        } else {
            put_header(&mut h, "content-type", "text/plain; charset=utf-8");
            let errs: Vec<String> = self
                .errors
                .iter()
                .map(|(p, e)| format!("{p}, {e}"))
                .collect();
            format!(
                "Number Deleted: {}\nNumber Not Found: {}\nResponse Body: \nResponse Status: {status}\nErrors: {}\n",
                self.deleted,
                self.not_found,
                errs.join("\n")
            )
        };
        respond(StatusCode::OK, h, body)
    }

    /// Deletes object `key` of container `container` (of the request's account) if the caller
    /// may write that container, counting the outcome.
    pub async fn delete_object(&mut self, swift: &Swift, ctx: &Ctx, container: &str, key: &str) {
        let path = format!("/{container}/{key}");
        match account_container(swift, &ctx.account, container).await {
            Ok(c) if !ctx.caller.may_write(&c) => self.fail(path, &ctx.caller.denied()),
            Ok(c) => match swift.svc.meta().delete_object(&c.name, key).await {
                Ok(Some(_)) => self.deleted += 1,
                Ok(None) | Err(meta_api::Error::NoSuchObject(_)) => self.not_found += 1,
                Err(e) => self.fail(path, &SwiftError::from(e)),
            },
            Err(e) if e.status == StatusCode::NOT_FOUND => self.not_found += 1,
            Err(e) => self.fail(path, &e),
        }
    }

    /// Records the failure `e` of `path` (decoded; reported URL-encoded).
    pub fn fail(&mut self, path: String, e: &SwiftError) {
        let reason = e.status.canonical_reason().unwrap_or("");
        self.errors.push((
            super::quote(&path),
            format!("{} {reason}", e.status.as_u16()),
        ));
    }
}

/// `?bulk-delete` on the account (its admin only: the router checked).
pub async fn bulk_delete(
    swift: &Swift,
    ctx: &Ctx,
    body: crate::listener::ReqBody,
) -> SwiftResult<Response> {
    let raw = super::large::small_body(body, MAX_BODY).await?;
    let text = String::from_utf8(raw).map_err(|_| SwiftError::bad_request("Invalid UTF8"))?;
    let paths: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if paths.len() > MAX_DELETES {
        return Err(SwiftError::status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let mut report = Report::default();
    for line in paths {
        if report.errors.len() >= MAX_FAILED {
            break;
        }
        let Ok(path) = percent_encoding::percent_decode_str(line).decode_utf8() else {
            // Not a name (Swift: "Invalid UTF8 or contains NULL"); reported as sent.
            report
                .errors
                .push((line.to_string(), "412 Precondition Failed".to_string()));
            continue;
        };
        let trimmed = path.trim_start_matches('/');
        match trimmed.split_once('/') {
            Some((c, o)) if !o.is_empty() => {
                report.delete_object(swift, ctx, c, o).await;
            }
            _ => {
                let c = trimmed.trim_end_matches('/');
                if c.is_empty() {
                    report.fail(
                        path.to_string(),
                        &SwiftError::status(StatusCode::BAD_REQUEST),
                    );
                    continue;
                }
                match account_container(swift, &ctx.account, c).await {
                    Ok(info) => match swift
                        .svc
                        .meta()
                        .delete_container(&info.account, &info.name)
                        .await
                    {
                        Ok(()) => report.deleted += 1,
                        Err(meta_api::Error::NoSuchContainer(_)) => report.not_found += 1,
                        Err(e) => report.fail(format!("/{c}"), &SwiftError::from(e)),
                    },
                    Err(e) if e.status == StatusCode::NOT_FOUND => report.not_found += 1,
                    Err(e) => report.fail(format!("/{c}"), &e),
                }
            }
        }
    }
    Ok(report.answer(ctx))
}
