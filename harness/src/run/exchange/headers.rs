//! A request's own headers as the user renders them: names, and values
//! that are either fixed for the run or rendered into one text buffer the
//! user keeps. Rendering a templated value then allocates nothing, where a
//! `HeaderValue` per value would copy it into a buffer of its own.

use std::ops::Range;

use http::header::{HeaderName, HeaderValue};

/// A request's headers, in the order they are sent.
#[derive(Debug, Default)]
pub struct HeaderList {
    entries: Vec<(HeaderName, Value)>,
    /// Every rendered value, one after the other.
    text: String,
}

#[derive(Debug)]
enum Value {
    Fixed(HeaderValue),
    /// A span of `text`.
    Rendered(Range<usize>),
}

/// A rendered value a header cannot carry: a control character, a newline
/// (which would start a header of its own), or a byte outside ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue(pub String);

impl HeaderList {
    /// Empties it for the next request, keeping its capacity.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.text.clear();
    }

    pub fn push_fixed(&mut self, name: HeaderName, value: HeaderValue) {
        self.entries.push((name, Value::Fixed(value)));
    }

    /// Adds a header whose value `render` writes (its error is passed
    /// through); a value no header can carry is refused, as
    /// `HeaderValue::from_str` would refuse it.
    pub fn push_rendered<E>(
        &mut self,
        name: HeaderName,
        render: impl FnOnce(&mut String) -> Result<(), E>,
    ) -> Result<Result<(), InvalidValue>, E> {
        let start = self.text.len();
        render(&mut self.text)?;
        let value = &self.text[start..];
        if !value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            let refused = InvalidValue(value.to_owned());
            self.text.truncate(start);
            return Ok(Err(refused));
        }
        self.entries
            .push((name, Value::Rendered(start..self.text.len())));
        Ok(Ok(()))
    }

    /// Each header's name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.entries.iter().map(|(name, value)| {
            let bytes = match value {
                Value::Fixed(value) => value.as_bytes(),
                Value::Rendered(span) => &self.text.as_bytes()[span.clone()],
            };
            (name, bytes)
        })
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.entries.iter().any(|(n, _)| n == name)
    }
}

#[cfg(test)]
mod tests {
    use http::header::{AUTHORIZATION, HeaderName};

    use super::*;

    #[test]
    fn fixed_and_rendered_values_come_back_in_order() {
        let mut list = HeaderList::default();
        list.push_fixed(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let user = HeaderName::from_static("x-user");
        list.push_rendered(user.clone(), |text| {
            text.push_str("user-7");
            Ok::<_, ()>(())
        })
        .unwrap()
        .unwrap();
        let sent: Vec<_> = list.iter().collect();
        assert_eq!(
            sent,
            [(&AUTHORIZATION, &b"Bearer t"[..]), (&user, &b"user-7"[..])]
        );
        assert!(list.contains(&user));
        list.clear();
        assert_eq!(list.iter().count(), 0);
    }

    #[test]
    fn a_rendered_newline_is_refused_and_leaves_nothing_behind() {
        let mut list = HeaderList::default();
        let refused = list
            .push_rendered(HeaderName::from_static("x-token"), |text| {
                text.push_str("a\r\nx-evil: 1");
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(refused, Err(InvalidValue("a\r\nx-evil: 1".to_owned())));
        assert_eq!(list.iter().count(), 0);
    }
}
