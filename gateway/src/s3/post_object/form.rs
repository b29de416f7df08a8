//! Reading a POST form: the fields before the `file` part, each bounded and all of them
//! together bounded, then the `file` part itself left unread, as a stream.

use bytes::Bytes;
use futures::Stream;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// The largest value of one field before the file.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The largest total of the fields before the file (names and values, plus
/// [`FIELD_OVERHEAD`] each).
pub const MAX_FIELDS_BYTES: usize = 1024 * 1024;
/// What each field counts beyond its name and value (its part headers), so that many empty
/// fields are bounded too.
const FIELD_OVERHEAD: usize = 64;

/// The fields of a form (names in lower case, in order) and its file part, unread.
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub file: multer::Field<'static>,
}

/// Reads `body` (a `multipart/form-data` stream with `boundary`) up to its `file` part.
/// Field names are case-insensitive; what follows the file part is never read.
pub async fn read<S, E>(body: S, boundary: &str) -> S3Result<Form>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let mut multipart = multer::Multipart::new(body, boundary.to_string());
    let mut fields = Vec::new();
    let mut total = 0usize;
    loop {
        let Some(mut field) = multipart.next_field().await.map_err(malformed)? else {
            return Err(s3_error!(
                InvalidArgument,
                "POST requires exactly one file upload per request."
            ));
        };
        let name = field.name().unwrap_or("").to_ascii_lowercase();
        if name == "file" {
            return Ok(Form {
                fields,
                file: field,
            });
        }
        total += name.len() + FIELD_OVERHEAD;
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            value.extend_from_slice(&chunk);
            if value.len() > MAX_FIELD_BYTES || total + value.len() > MAX_FIELDS_BYTES {
                return Err(too_large());
            }
        }
        total += value.len();
        if total > MAX_FIELDS_BYTES {
            return Err(too_large());
        }
        let value = String::from_utf8(value).map_err(|_| {
            s3_error!(
                InvalidArgument,
                "The value of the form field {name:?} is not valid UTF-8."
            )
        })?;
        fields.push((name, value));
    }
}

fn too_large() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MaxPostPreDataLengthExceededError,
        "Your POST request fields preceeding the upload file was too large.",
    )
}

/// A body that is not a readable `multipart/form-data` form.
pub fn malformed(e: multer::Error) -> S3Error {
    tracing::debug!(error = %e, "unreadable POST form");
    unreadable()
}

/// The answer to a form that cannot be read (400 `MalformedPOSTRequest`).
pub fn unreadable() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &str)]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
        let mut text = String::new();
        for (name, value) in parts {
            text.push_str(&format!(
                "--XB\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        text.push_str("--XB--\r\n");
        // In small pieces, as a network would.
        let chunks: Vec<Result<Bytes, std::io::Error>> = text
            .into_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(chunks)
    }

    #[tokio::test]
    async fn fields_until_the_file() {
        let form = read(
            body(&[
                ("KeY", "a.txt"),
                ("x-amz-meta-A", "1"),
                ("File", "data"),
                ("late", "x"),
            ]),
            "XB",
        )
        .await
        .unwrap();
        let names: Vec<&str> = form.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["key", "x-amz-meta-a"]);
        assert_eq!(form.fields[0].1, "a.txt");
        assert_eq!(form.file.file_name(), Some("File"));
        let data = form.file.bytes().await.unwrap();
        assert_eq!(&data[..], b"data");
    }

    #[tokio::test]
    async fn bounds_and_errors() {
        let err = read(body(&[("key", "a")]), "XB").await.err().unwrap();
        assert_eq!(err.code(), &S3ErrorCode::InvalidArgument);
        let big = "v".repeat(MAX_FIELD_BYTES + 1);
        let err = read(body(&[("key", &big), ("file", "x")]), "XB")
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), &S3ErrorCode::MaxPostPreDataLengthExceededError);
        let many: Vec<(String, String)> = (0..20)
            .map(|i| (format!("x-ignore-{i}"), "v".repeat(60 * 1024)))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let err = read(body(&many), "XB").await.err().unwrap();
        assert_eq!(err.code(), &S3ErrorCode::MaxPostPreDataLengthExceededError);
        let err = read(body(&[("key", "a")]), "OTHER").await.err().unwrap();
        assert_eq!(err.code(), &S3ErrorCode::MalformedPOSTRequest);
    }
}
