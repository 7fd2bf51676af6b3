//! The saved-inventory snapshot (`--save-inventory`, `--from-inventory`): JSON, versioned
//! by [`SCHEMA_VERSION`].

use std::path::Path;

use serde::Deserialize;

use super::{
    DataError, Inventory, LastUseSource, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, SourceInfo,
};

impl Inventory {
    /// Streams the snapshot written by `--save-inventory` into `out`, with its coverage
    /// brought up to date first. Streaming keeps a large account's snapshot out of memory.
    pub fn write_json(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.coverage = Some(self.compute_coverage());
        serde_json::to_writer_pretty(&mut *out, self)?;
        Ok(())
    }

    /// Reads a snapshot written by `--save-inventory`. Errors name the file and the line.
    /// Only a regular file of at most [`crate::fsio::MAX_DATA_FILE_BYTES`] is read.
    pub fn from_json_file(path: &Path) -> Result<Self, InventoryFileError> {
        let text = crate::fsio::read_limited_text(
            path,
            "saved inventory",
            crate::fsio::MAX_DATA_FILE_BYTES,
        )?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    pub fn from_json_str(text: &str, file: &str) -> Result<Self, InventoryFileError> {
        // Look at the version first, so that a newer document gets a clear message
        // instead of a complaint about some field it added.
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<serde_json::Value>,
        }
        let syntax = |e: serde_json::Error| InventoryFileError::Syntax {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        };
        let version: Version = serde_json::from_str(text).map_err(syntax)?;
        match version.schema_version {
            Some(serde_json::Value::Number(n))
                if n.as_u64()
                    .is_some_and(|v| READABLE_SCHEMA_VERSIONS.iter().any(|r| *r as u64 == v)) => {}
            other => {
                return Err(InventoryFileError::Version {
                    file: file.to_string(),
                    found: other.map_or_else(|| "none".to_string(), |v| v.to_string()),
                });
            }
        }
        let mut inv: Inventory = serde_json::from_str(text).map_err(syntax)?;
        // Migration: every older document is a valid current one, except that a key's
        // last-use source was implied by the inventory's source before version 4.
        if inv.schema_version < 4 && matches!(inv.source, SourceInfo::CredentialReport { .. }) {
            for key in inv.users.iter_mut().flat_map(|u| u.keys.iter_mut()) {
                key.last_used_source = LastUseSource::CredentialReport;
            }
        }
        inv.schema_version = SCHEMA_VERSION;
        inv.normalize();
        inv.validate(file)?;
        Ok(inv)
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryFileError {
    #[error(transparent)]
    Read(#[from] crate::fsio::ReadError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(
        "{file}:{line}:{column}: not a valid keyhygiene inventory: {message} (write a fresh one with `keyhygiene audit --save-inventory FILE`)"
    )]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}:1: unsupported inventory schema_version {found}; this keyhygiene reads versions 1 to {SCHEMA_VERSION} (re-save the inventory with this version)"
    )]
    Version { file: String, found: String },
}
