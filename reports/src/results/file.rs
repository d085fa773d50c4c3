//! `results.json` on disk: read and checked for its format and version,
//! written atomically, and its JSON Schema.

use std::{fs, io::Write, path::Path};

use serde::Deserialize;

use super::{OLDEST_RESULTS_VERSION, RESULTS_FORMAT, RESULTS_VERSION, Results};

/// Reading or writing a results file.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a loadgate results file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path}: results format version {found} is not supported (this loadgate reads versions {OLDEST_RESULTS_VERSION} to {RESULTS_VERSION})"
    )]
    Version { path: String, found: u32 },
}

impl Results {
    /// Reads and checks a results file.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| ResultsError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text)
    }

    /// Parses results text; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ResultsError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let parse_error = |source| ResultsError::Parse {
            path: source_name.to_owned(),
            source,
        };
        let supported = |format: &str, version| {
            format == RESULTS_FORMAT
                && (OLDEST_RESULTS_VERSION..=RESULTS_VERSION).contains(&version)
        };
        // One pass for a good file; the header alone is read again only to
        // tell a file of another version from a broken one.
        if let Ok(results) = serde_json::from_str::<Self>(text)
            && supported(&results.format, results.version)
        {
            return Ok(results);
        }
        let header: Header = serde_json::from_str(text).map_err(parse_error)?;
        if !supported(&header.format, header.version) {
            return Err(ResultsError::Version {
                path: source_name.to_owned(),
                found: header.version,
            });
        }
        serde_json::from_str(text).map_err(parse_error)
    }

    /// Writes the file atomically: to a temporary file beside it, then
    /// renamed over it, so a reader never sees half a file and a crash never
    /// leaves one.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).expect("results serialize");
        write_file_atomic(path, &json)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let io = |source| ResultsError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    // A temporary file is private (0600); results are for whoever can read
    // the directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The JSON Schema of [`Results`], as committed in `results.schema.json`.
pub fn json_schema_text() -> String {
    let schema = schemars::schema_for!(Results);
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}
