//! The placeholder syntax: text split into literal pieces and `{{ ... }}`
//! placeholders, each parsed as written, and the names a placeholder or a
//! capture may use. Nothing is resolved here; that needs a [`super::Scope`].

/// Placeholder as written, before resolution.
#[derive(Debug)]
pub(super) enum Raw<'t> {
    Key,
    Seq,
    Random(i64, i64),
    Var(&'t str),
    Name(&'t str),
}

/// Letters, digits and `_`, not starting with a digit: a variable or
/// capture name.
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names a capture may not take because placeholders already mean something.
pub const RESERVED_NAMES: &[&str] = &["key", "seq", "random", "var"];

/// Whether `name` can name a captured variable.
pub fn valid_capture_name(name: &str) -> bool {
    is_identifier(name) && !RESERVED_NAMES.contains(&name)
}

/// A stretch of template text: literal, or one placeholder.
pub(super) enum Piece<'t> {
    Text(&'t str),
    Placeholder(Raw<'t>),
}

/// Splits `text` into literal text and placeholders, or lists what is wrong.
pub(super) fn split(text: &str) -> Result<Vec<Piece<'_>>, Vec<String>> {
    let mut pieces = Vec::new();
    let mut errors = Vec::new();
    let mut rest = text;
    loop {
        let open = rest.find("{{");
        let close = rest.find("}}");
        match (open, close) {
            (None, None) => {
                if !rest.is_empty() {
                    pieces.push(Piece::Text(rest));
                }
                break;
            }
            (Some(o), Some(c)) if c < o => {
                errors.push(format!("`}}}}` without a matching `{{{{` in {text:?}"));
                break;
            }
            (None, Some(_)) => {
                errors.push(format!("`}}}}` without a matching `{{{{` in {text:?}"));
                break;
            }
            (Some(_), None) => {
                errors.push(format!("`{{{{` is never closed with `}}}}` in {text:?}"));
                break;
            }
            (Some(o), Some(_)) => {
                if o > 0 {
                    pieces.push(Piece::Text(&rest[..o]));
                }
                let inner_start = o + 2;
                let c = rest[inner_start..]
                    .find("}}")
                    .map(|i| i + inner_start)
                    .expect("a `}}` follows");
                let inner = &rest[inner_start..c];
                if inner.contains("{{") {
                    errors.push(format!("`{{{{` is never closed with `}}}}` in {text:?}"));
                    break;
                }
                match parse_placeholder(inner.trim()) {
                    Ok(raw) => pieces.push(Piece::Placeholder(raw)),
                    Err(e) => errors.push(e),
                }
                rest = &rest[c + 2..];
            }
        }
    }
    if errors.is_empty() {
        Ok(pieces)
    } else {
        Err(errors)
    }
}

fn parse_placeholder(inner: &str) -> Result<Raw<'_>, String> {
    match inner {
        "key" => return Ok(Raw::Key),
        "seq" => return Ok(Raw::Seq),
        "" => return Err("empty placeholder `{{ }}`".to_owned()),
        _ => {}
    }
    if let Some(args) = inner
        .strip_prefix("random")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
    {
        let bad = || {
            format!(
                "`{{{{ {inner} }}}}` needs two integers, low and high: `{{{{ random(1, 1000) }}}}`"
            )
        };
        let (low, high) = args.split_once(',').ok_or_else(bad)?;
        let low: i64 = low.trim().parse().map_err(|_| bad())?;
        let high: i64 = high.trim().parse().map_err(|_| bad())?;
        if low > high {
            return Err(format!(
                "`{{{{ {inner} }}}}`: low ({low}) is greater than high ({high})"
            ));
        }
        return Ok(Raw::Random(low, high));
    }
    if let Some(name) = inner.strip_prefix("var.") {
        if is_identifier(name) {
            return Ok(Raw::Var(name));
        }
        return Err(format!(
            "`{{{{ {inner} }}}}`: `{name}` is not a variable name"
        ));
    }
    if is_identifier(inner) {
        return Ok(Raw::Name(inner));
    }
    Err(format!(
        "unknown placeholder `{{{{ {inner} }}}}` (use key, seq, random(LOW, HIGH), var.NAME or a captured name)"
    ))
}
