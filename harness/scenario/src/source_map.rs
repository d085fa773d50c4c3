//! Where each field of a YAML document is, by field path.
//!
//! serde forgets positions once a value is deserialised, yet most scenario
//! mistakes (an unknown placeholder, a budget naming a missing request) are
//! only found afterwards. So the text is parsed a second time with
//! `saphyr-parser`, whose events carry markers, into a map from field path
//! (`load.stages[1].hold`, the same spelling serde_yaml_ng and
//! serde_path_to_error use) to the position of the key and of the value.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The start of the document, used when nothing better is known.
    pub const START: Position = Position { line: 1, column: 1 };

    fn from_span(span: &Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Option<Position>,
    value: Position,
}

/// Positions of every node of the first YAML document, by field path.
#[derive(Debug, Default)]
pub struct SourceMap {
    entries: HashMap<String, Entry>,
}

enum Frame {
    Map {
        path: String,
        /// The key just read, waiting for its value.
        key: Option<(String, Position)>,
    },
    Seq {
        path: String,
        next: usize,
    },
    /// A complex (non-scalar) mapping key: skipped, with its nesting depth.
    Skip(usize),
}

/// Joins a parent path and a map key the way serde_yaml_ng prints paths.
pub fn child_key(parent: &str, key: &str) -> String {
    if parent == "." {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Joins a parent path and a sequence index the way serde_yaml_ng prints paths.
pub fn child_index(parent: &str, index: usize) -> String {
    if parent == "." {
        format!("[{index}]")
    } else {
        format!("{parent}[{index}]")
    }
}

impl SourceMap {
    /// Maps `text`. A syntax error stops the walk; whatever was mapped before
    /// it is kept, and lookups elsewhere fall back to an ancestor.
    pub fn parse(text: &str) -> Self {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut seen_root = false;
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let pos = Position::from_span(&span);
            let (opens, closes) = match &event {
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, false),
                Event::MappingEnd | Event::SequenceEnd => (false, true),
                Event::Scalar(..) | Event::Alias(_) => (false, false),
                Event::DocumentEnd => break,
                _ => continue,
            };
            if let Some(Frame::Skip(depth)) = stack.last_mut() {
                if opens {
                    *depth += 1;
                } else if closes {
                    *depth -= 1;
                    if *depth == 0 {
                        stack.pop();
                    }
                }
                continue;
            }
            if closes {
                stack.pop();
                continue;
            }
            // A node starts: it is either a map key or a value.
            let path = match stack.last_mut() {
                None => {
                    if seen_root {
                        break;
                    }
                    seen_root = true;
                    map.insert(".".to_owned(), None, pos);
                    ".".to_owned()
                }
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        // This node is a key.
                        if let Event::Scalar(text, ..) = &event {
                            *key = Some((text.to_string(), pos));
                        } else if opens {
                            *key = Some(("?".to_owned(), pos));
                            stack.push(Frame::Skip(1));
                        } else {
                            *key = Some(("?".to_owned(), pos));
                        }
                        continue;
                    }
                    Some((name, key_pos)) => {
                        let child = child_key(path, &name);
                        map.insert(child.clone(), Some(key_pos), pos);
                        child
                    }
                },
                Some(Frame::Seq { path, next }) => {
                    let child = child_index(path, *next);
                    *next += 1;
                    map.insert(child.clone(), None, pos);
                    child
                }
                Some(Frame::Skip(_)) => unreachable!("handled above"),
            };
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                _ => {}
            }
        }
        map
    }

    fn insert(&mut self, path: String, key: Option<Position>, value: Position) {
        self.entries.entry(path).or_insert(Entry { key, value });
    }

    /// Where the value at `path` starts, or the nearest mapped ancestor's.
    pub fn value(&self, path: &str) -> Position {
        self.lookup(path, |e| e.value)
    }

    /// Where the key of `path` is (for "unknown field" errors), else its value,
    /// else the nearest mapped ancestor.
    pub fn key(&self, path: &str) -> Position {
        self.lookup(path, |e| e.key.unwrap_or(e.value))
    }

    /// Whether `path` is in the document.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    fn lookup(&self, path: &str, pick: impl Fn(&Entry) -> Position) -> Position {
        let mut current = path;
        loop {
            if let Some(entry) = self.entries.get(current) {
                return pick(entry);
            }
            match parent(current) {
                Some(up) => current = up,
                None => return Position::START,
            }
        }
    }
}

/// The parent of a path (`a.b[2]` → `a.b`, `a.b` → `a`, `a` → `.`).
fn parent(path: &str) -> Option<&str> {
    if path == "." || path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(0) | None => Some("."),
        Some(i) => Some(&path[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
load:
  stages:
    - users: 5
      ramp: 10s
    - {users: 5, hold: 10 min}
budgets:
  requests:
    get_server: {p95: 80ms}
";

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn maps_keys_and_values() {
        let map = SourceMap::parse(DOC);
        assert_eq!(map.value("name"), at(1, 7));
        assert_eq!(map.key("name"), at(1, 1));
        assert_eq!(map.value("load.stages[0].ramp"), at(5, 13));
        assert_eq!(map.key("load.stages[0].ramp"), at(5, 7));
        assert_eq!(map.value("load.stages[1].hold"), at(6, 24));
        assert_eq!(map.key("budgets.requests.get_server"), at(9, 5));
        assert_eq!(map.value("budgets.requests.get_server.p95"), at(9, 23));
    }

    #[test]
    fn falls_back_to_ancestors() {
        let map = SourceMap::parse(DOC);
        assert_eq!(map.value("load.stages[0].nope"), at(4, 7));
        assert_eq!(map.value("nothing.here"), at(1, 1));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("[2]"), Some("."));
        assert_eq!(parent("a"), Some("."));
    }

    #[test]
    fn survives_syntax_errors() {
        let map = SourceMap::parse("name: x\nload: [\n");
        assert_eq!(map.value("name"), at(1, 7));
    }
}
