//! Account and container listings in Swift's three formats: plain text (one name per line),
//! JSON and XML, chosen by `?format=` or the `Accept` header; and the listing parameters
//! (prefix, delimiter, marker, end_marker, limit, reverse, path).

use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::error::{SwiftError, SwiftResult};
use super::router::Ctx;
use super::{LISTING_LIMIT, Response, header, listing_date, put_header, respond};
use crate::xml::escape as xml_escape;
use meta_api::listing::Rollup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Xml,
}

/// The format asked for: `?format=json|xml|plain`, else the Accept header, else text.
pub fn format(ctx: &Ctx) -> Format {
    match ctx.q("format").map(str::to_ascii_lowercase).as_deref() {
        Some("json") => return Format::Json,
        Some("xml") => return Format::Xml,
        Some("plain") | Some("text") => return Format::Text,
        _ => {}
    }
    let accept = header(&ctx.headers, "accept").unwrap_or("");
    if accept.contains("application/json") {
        Format::Json
    } else if accept.contains("application/xml") || accept.contains("text/xml") {
        Format::Xml
    } else {
        Format::Text
    }
}

/// Listing parameters common to accounts and containers.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub limit: u32,
    pub reverse: bool,
}

impl Params {
    pub fn of(ctx: &Ctx) -> SwiftResult<Params> {
        let limit = match ctx.q("limit") {
            None | Some("") => LISTING_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if n <= LISTING_LIMIT => n,
                Ok(_) => {
                    return Err(SwiftError::with(
                        StatusCode::PRECONDITION_FAILED,
                        format!("Maximum limit is {LISTING_LIMIT}"),
                    ));
                }
                // Not a number: ignored, as Swift does (the default limit applies).
                Err(_) => LISTING_LIMIT,
            },
        };
        let nonempty = |s: Option<&str>| s.filter(|v| !v.is_empty()).map(str::to_string);
        // Any non-empty delimiter, one character or more, as Swift since 2.24.
        let delimiter = nonempty(ctx.q("delimiter"));
        Ok(Params {
            prefix: ctx.q("prefix").unwrap_or("").to_string(),
            delimiter,
            marker: nonempty(ctx.q("marker")),
            end_marker: nonempty(ctx.q("end_marker")),
            limit,
            reverse: matches!(
                ctx.q("reverse").map(str::to_ascii_lowercase).as_deref(),
                Some("true" | "1" | "yes" | "on" | "t" | "y")
            ),
        })
    }
}

/// One container of an account listing.
pub struct ContainerEntry {
    pub name: String,
    pub count: u64,
    pub bytes: u64,
    pub last_modified_ms: i64,
    pub storage_policy: String,
    /// A common prefix (with `delimiter`), not a container.
    pub subdir: bool,
}

/// One entry of a container listing.
pub enum ObjectEntry {
    Object {
        name: String,
        hash: String,
        bytes: u64,
        content_type: String,
        last_modified_ms: i64,
        /// An SLO manifest's assembled ETag (unquoted), listed in JSON as `slo_etag`.
        slo_etag: Option<String>,
        /// Where the current version is read by id, for an object that has a version id:
        /// listed in JSON as `symlink_path` with `version_symlink`, as Swift lists objects of
        /// a versioned container.
        version_path: Option<String>,
    },
    Subdir(String),
}

impl ObjectEntry {
    pub fn name(&self) -> &str {
        match self {
            ObjectEntry::Object { name, .. } | ObjectEntry::Subdir(name) => name,
        }
    }
}

/// One entry of a meta listing page, which keeps items and common prefixes apart.
pub enum Paged<T> {
    Item(T),
    Prefix(String),
}

/// A page's items and common prefixes (each sorted by name) merged in name order.
pub fn in_name_order<T>(
    items: Vec<T>,
    prefixes: Vec<String>,
    name: impl Fn(&T) -> &str,
) -> impl Iterator<Item = Paged<T>> {
    let mut items = items.into_iter().peekable();
    let mut prefixes = prefixes.into_iter().peekable();
    std::iter::from_fn(move || {
        let item_first = match (items.peek(), prefixes.peek()) {
            (Some(i), Some(p)) => name(i) < p.as_str(),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if item_first {
            items.next().map(Paged::Item)
        } else {
            prefixes.next().map(Paged::Prefix)
        }
    })
}

/// Applies prefix / delimiter / marker / end_marker / reverse / limit to a sorted list of
/// names, folding names past the delimiter into subdirectories ("prefix/") with the rollup
/// every listing shares (`meta_api::listing`); in reverse order the marker bounds from above.
pub fn select<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    subdir: impl Fn(String) -> T,
    p: &Params,
) -> Vec<T> {
    let mut page = Rollup::new(&p.prefix, p.delimiter.as_deref(), None, usize::MAX);
    for item in items {
        if !name(&item).starts_with(&p.prefix) {
            continue;
        }
        let key = name(&item).to_string();
        page.offer(&key, || item);
    }
    let rolled = in_name_order(page.items, page.common_prefixes, &name);
    let mut out: Vec<T> = rolled
        .map(|e| match e {
            Paged::Item(i) => i,
            Paged::Prefix(sub) => subdir(sub),
        })
        .collect();
    if p.reverse {
        out.reverse();
        // In reverse order the marker bounds from above and end_marker from below.
        out.retain(|i| {
            let n = name(i);
            p.marker.as_deref().is_none_or(|m| n < m)
                && p.end_marker.as_deref().is_none_or(|e| n > e)
        });
    } else {
        out.retain(|i| {
            let n = name(i);
            p.marker.as_deref().is_none_or(|m| n > m)
                && p.end_marker.as_deref().is_none_or(|e| n < e)
        });
    }
    out.truncate(p.limit as usize);
    out
}

/// The listing answer: 204 for an empty text listing, 200 otherwise; `extra` are the
/// account or container headers.
fn answer(fmt: Format, mut extra: HeaderMap, empty: bool, body: String) -> Response {
    let ct = match fmt {
        Format::Text => "text/plain; charset=utf-8",
        Format::Json => "application/json; charset=utf-8",
        Format::Xml => "application/xml; charset=utf-8",
    };
    put_header(&mut extra, "content-type", ct);
    let status = if empty && fmt == Format::Text {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    respond(status, extra, body)
}

pub fn containers(fmt: Format, account: &str, items: &[ContainerEntry], h: HeaderMap) -> Response {
    let body = match fmt {
        Format::Text => items.iter().map(|c| format!("{}\n", c.name)).collect(),
        Format::Json => {
            let v: Vec<serde_json::Value> = items
                .iter()
                .map(|c| {
                    if c.subdir {
                        json!({"subdir": c.name})
                    } else {
                        json!({"name": c.name, "count": c.count, "bytes": c.bytes,
                               "last_modified": listing_date(c.last_modified_ms),
                               "storage_policy": c.storage_policy})
                    }
                })
                .collect();
            serde_json::Value::Array(v).to_string()
        }
        Format::Xml => {
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">",
                xml_escape(account)
            );
            for c in items {
                if c.subdir {
                    s.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        xml_escape(&c.name)
                    ));
                } else {
                    s.push_str(&format!(
                        "<container><name>{}</name><count>{}</count><bytes>{}</bytes><last_modified>{}</last_modified><storage_policy>{}</storage_policy></container>",
                        xml_escape(&c.name),
                        c.count,
                        c.bytes,
                        listing_date(c.last_modified_ms),
                        xml_escape(&c.storage_policy)
                    ));
                }
            }
            s.push_str("</account>");
            s
        }
    };
    answer(fmt, h, items.is_empty(), body)
}

pub fn objects(fmt: Format, container: &str, items: &[ObjectEntry], h: HeaderMap) -> Response {
    let body = match fmt {
        Format::Text => items.iter().map(|o| format!("{}\n", o.name())).collect(),
        Format::Json => {
            let v: Vec<serde_json::Value> = items
                .iter()
                .map(|o| match o {
                    ObjectEntry::Subdir(name) => json!({"subdir": name}),
                    ObjectEntry::Object {
                        name,
                        hash,
                        bytes,
                        content_type,
                        last_modified_ms,
                        slo_etag,
                        version_path,
                    } => {
                        let mut o = json!({"name": name, "hash": hash, "bytes": bytes,
                                "content_type": content_type,
                                "last_modified": listing_date(*last_modified_ms)});
                        if let Some(e) = slo_etag {
                            o["slo_etag"] = json!(format!("\"{e}\""));
                        }
                        if let Some(p) = version_path {
                            o["symlink_path"] = json!(p);
                            o["version_symlink"] = json!(true);
                        }
                        o
                    }
                })
                .collect();
            serde_json::Value::Array(v).to_string()
        }
        Format::Xml => {
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                xml_escape(container)
            );
            for o in items {
                match o {
                    ObjectEntry::Subdir(name) => s.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        xml_escape(name)
                    )),
                    ObjectEntry::Object {
                        name,
                        hash,
                        bytes,
                        content_type,
                        last_modified_ms,
                        ..
                    } => s.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        xml_escape(name),
                        xml_escape(hash),
                        bytes,
                        xml_escape(content_type),
                        listing_date(*last_modified_ms)
                    )),
                }
            }
            s.push_str("</container>");
            s
        }
    };
    answer(fmt, h, items.is_empty(), body)
}

#[cfg(test)]
mod tests {
    use super::{Paged, Params, in_name_order, select};

    fn run(names: &[&str], p: Params) -> Vec<String> {
        select(
            names.iter().map(|s| s.to_string()).collect(),
            |s| s.as_str(),
            |s| s,
            &p,
        )
    }

    #[test]
    fn pages_merge_in_name_order() {
        let merged: Vec<String> = in_name_order(
            vec!["a", "c/x", "e"],
            vec!["b/".to_string(), "d/".to_string(), "f/".to_string()],
            |s| s,
        )
        .map(|e| match e {
            Paged::Item(i) => i.to_string(),
            Paged::Prefix(p) => format!("[{p}]"),
        })
        .collect();
        assert_eq!(merged, ["a", "[b/]", "c/x", "[d/]", "e", "[f/]"]);
    }

    #[test]
    fn listing_parameters() {
        let names = ["a", "b/1", "b/2", "c", "d"];
        let all = Params {
            limit: 100,
            ..Params::default()
        };
        assert_eq!(run(&names, all.clone()), names);
        let delim = Params {
            delimiter: Some("/".into()),
            ..all.clone()
        };
        assert_eq!(run(&names, delim), ["a", "b/", "c", "d"]);
        let bounds = Params {
            marker: Some("a".into()),
            end_marker: Some("d".into()),
            limit: 2,
            ..all.clone()
        };
        assert_eq!(run(&names, bounds), ["b/1", "b/2"]);
        let reverse = Params {
            reverse: true,
            marker: Some("d".into()),
            limit: 2,
            ..all
        };
        assert_eq!(run(&names, reverse.clone()), ["c", "b/2"]);
        let rolled_reverse = Params {
            delimiter: Some("/".into()),
            marker: None,
            limit: 3,
            ..reverse
        };
        assert_eq!(run(&names, rolled_reverse), ["d", "c", "b/"]);
    }
}
