//! `page` and `per_page`, as every paginated list reads them (architecture
//! §3: pages of 100 by default, 1000 at most).

use crate::error::{Error, Result};

pub const PER_PAGE_DEFAULT: u32 = 100;
pub const PER_PAGE_MAX: u32 = 1000;
/// Deepest page: 10,000 pages of 1000 are ten million items, more than a
/// user has. The bound keeps a crawler of ever-higher pages from filling
/// the caches with empty pages and the database with huge `OFFSET` scans.
pub const PAGE_MAX: u32 = 10_000;

/// A page request whose numbers are in bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    /// Reads the query's text values; a bad one is a 400 naming it.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self> {
        let number = |name: &str, text: Option<&str>, default: u32, max: u32| -> Result<u32> {
            let Some(text) = text else {
                return Ok(default);
            };
            let value = text
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    Error::BadRequest(format!(
                        "{name} must be a whole number of at least 1, not {text:?}"
                    ))
                })?;
            if value > max {
                return Err(Error::BadRequest(format!(
                    "{name} is {value}; the maximum is {max}"
                )));
            }
            Ok(value)
        };
        Ok(Self {
            page: number("page", page, 1, PAGE_MAX)?,
            per_page: number("per_page", per_page, PER_PAGE_DEFAULT, PER_PAGE_MAX)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = Page::parse(None, None).unwrap();
        assert_eq!((p.page, p.per_page), (1, 100));
        let p = Page::parse(Some("3"), Some("1000")).unwrap();
        assert_eq!((p.page, p.per_page), (3, 1000));
        let err = Page::parse(None, Some("1001")).unwrap_err();
        assert_eq!(err.to_string(), "per_page is 1001; the maximum is 1000");
        for bad in ["0", "-1", "x", "10001"] {
            assert!(Page::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert!(Page::parse(Some("10000"), None).is_ok());
    }
}
