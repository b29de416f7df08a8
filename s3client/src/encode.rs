//! Percent-encoding for S3 URIs, the way S3 clients encode them (and SigV4 signs them, once).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a URI path: RFC 3986 unreserved plus `/`.
pub const PATH: &AsciiSet = &QUERY.remove(b'/');
/// Characters left as they are in a query name or value: RFC 3986 unreserved.
pub const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a bucket name, an object key (or any path) for the URI path.
pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// Percent-encodes a query name or value.
pub fn encode_query(value: &str) -> String {
    utf8_percent_encode(value, QUERY).to_string()
}

/// `name=value&…` with both sides encoded; a parameter with an empty value is just `name`.
/// The pairs are kept in the order given.
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            if v.is_empty() {
                encode_query(k)
            } else {
                format!("{}={}", encode_query(k), encode_query(v))
            }
        })
        .collect();
    parts.join("&")
}

/// The path-style URI `{endpoint}/{bucket}/{key}?{query}`: `endpoint` is `http://host:port`
/// without a trailing `/`, `bucket` and `key` are encoded here, `query` is already encoded
/// (left out when empty). Without a bucket the path is `/` (and a key is ignored).
pub fn path_style_uri(
    endpoint: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &str,
) -> String {
    let mut uri = format!("{endpoint}/");
    if let Some(bucket) = bucket {
        uri.push_str(&encode_path(bucket));
        if let Some(key) = key {
            uri.push('/');
            uri.push_str(&encode_path(key));
        }
    }
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_unreserved_and_slash() {
        assert_eq!(encode_path("a b/c+d%é~"), "a%20b/c%2Bd%25%C3%A9~");
        assert_eq!(encode_path("AZaz09-_.~/"), "AZaz09-_.~/");
        assert_eq!(encode_path("k=v&x?#"), "k%3Dv%26x%3F%23");
    }

    #[test]
    fn query_values_encode_slash() {
        assert_eq!(encode_query("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_query("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode_query("x+y=z&"), "x%2By%3Dz%26");
    }

    #[test]
    fn query_strings() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(query_string(&none), "");
        assert_eq!(
            query_string(&[("uploads", ""), ("prefix", "a b/")]),
            "uploads&prefix=a%20b%2F"
        );
    }

    #[test]
    fn path_style_uris() {
        let e = "http://127.0.0.1:9000";
        assert_eq!(path_style_uri(e, None, None, ""), "http://127.0.0.1:9000/");
        assert_eq!(
            path_style_uri(e, None, Some("k"), ""),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            path_style_uri(e, Some("b"), None, "list-type=2"),
            "http://127.0.0.1:9000/b?list-type=2"
        );
        assert_eq!(
            path_style_uri(e, Some("b"), Some("d/k 1"), ""),
            "http://127.0.0.1:9000/b/d/k%201"
        );
    }
}
