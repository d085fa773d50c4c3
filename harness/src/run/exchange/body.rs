//! A response body as it came off the wire, decoded only when a check or
//! a capture reads it: a run that only counts responses never pays for
//! decompression, and the bytes on the wire stay the bytes counted.

use std::{borrow::Cow, io::Read};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, HeaderMap};

/// How the body on the wire is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    /// One loadgate cannot decode; checks see the bytes as they came.
    Other,
}

impl Encoding {
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(CONTENT_ENCODING) else {
            return Self::Identity;
        };
        match value.to_str().map(str::trim) {
            Ok(v) if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") => {
                Self::Gzip
            }
            Ok(v) if v.eq_ignore_ascii_case("deflate") => Self::Deflate,
            Ok(v) if v.eq_ignore_ascii_case("br") => Self::Brotli,
            Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("identity") => Self::Identity,
            _ => Self::Other,
        }
    }
}

/// Decodes `raw`; a body that does not decode is a failed check, not a
/// crash, so the error only says why.
pub fn decode(raw: &Bytes, encoding: Encoding) -> Result<Cow<'_, [u8]>, std::io::Error> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Identity | Encoding::Other => return Ok(Cow::Borrowed(raw)),
        Encoding::Gzip => flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?,
        Encoding::Deflate => flate2::read::ZlibDecoder::new(&raw[..]).read_to_end(&mut out)?,
        Encoding::Brotli => {
            brotli_decompressor::Decompressor::new(&raw[..], 4096).read_to_end(&mut out)?
        }
    };
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use http::header::HeaderValue;

    use super::*;

    #[test]
    fn a_gzipped_body_decodes_to_what_was_compressed() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"{\"id\": 7}").unwrap();
        let raw = Bytes::from(encoder.finish().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let encoding = Encoding::of(&headers);
        assert_eq!(encoding, Encoding::Gzip);
        assert_eq!(&*decode(&raw, encoding).unwrap(), b"{\"id\": 7}");
    }

    #[test]
    fn an_identity_body_is_not_copied() {
        let raw = Bytes::from_static(b"hello");
        assert!(matches!(
            decode(&raw, Encoding::of(&HeaderMap::new())).unwrap(),
            Cow::Borrowed(b"hello")
        ));
    }

    #[test]
    fn a_body_that_is_not_gzip_is_an_error() {
        let raw = Bytes::from_static(b"plain text");
        assert!(decode(&raw, Encoding::Gzip).is_err());
    }
}
