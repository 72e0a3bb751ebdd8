//! The identity of a planned sweep: the plan hash over the spec as planned (without
//! `[slurm]`, which decides how tasks are queued, not what they compute), the sha256 of
//! every data file and of a command sweep's input files; and the checks a worker makes
//! before computing anything, that neither `spec.toml` nor a data or input file changed
//! since planning.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plan::{DataFileHash, InputFileHash, Plan, PLAN_SCHEMA};
use crate::spec::Spec;

/// How many hex digits of a sha256 an error message shows.
const HASH_PREFIX: usize = 12;

fn prefix(h: &str) -> String {
    h.chars().take(HASH_PREFIX).collect()
}

/// sha256 (hex) and size of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// sha256 (hex) of the spec as planned: its normalised TOML without `[slurm]`.
pub fn spec_hash(spec: &Spec) -> Result<String, String> {
    let text = spec.to_toml_without_slurm()?;
    Ok(hex::encode(Sha256::digest(text.as_bytes())))
}

/// The plan hash: the spec hash, the data files' hashes and the input files' hashes (a
/// plan without inputs hashes as before inputs existed).
pub fn plan_hash(spec_hash: &str, data: &[DataFileHash], inputs: &[InputFileHash]) -> String {
    let mut h = Sha256::new();
    h.update(PLAN_SCHEMA.as_bytes());
    h.update(b"\n");
    h.update(spec_hash.as_bytes());
    for d in data {
        h.update(format!("\n{} {}", d.symbol, d.sha256).as_bytes());
    }
    for i in inputs {
        h.update(format!("\ninput {} {}", i.input, i.sha256).as_bytes());
    }
    hex::encode(h.finalize())
}

/// Why a sweep directory no longer holds what was planned.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "{}: the spec changed since planning (planned spec sha256 {planned}..., now \
         {current}...); results computed now would not be those of plan {plan8}. Plan the \
         edited spec as a new sweep (`sweep plan {}`), or restore spec.toml",
        .path.display(), .path.display()
    )]
    SpecChanged {
        path: PathBuf,
        plan8: String,
        planned: String,
        current: String,
    },
    #[error("{}: the spec cannot be checked against the plan: {message}", .path.display())]
    SpecUnreadable { path: PathBuf, message: String },
    #[error(
        "data file {} ({symbol}) changed since planning: planned sha256 {planned}..., now \
         {current}...; plan the sweep again to use the new data",
        .file.display()
    )]
    DataChanged {
        symbol: String,
        file: PathBuf,
        planned: String,
        current: String,
    },
    #[error("data file {} ({symbol}) cannot be read to check it against the plan: {error}", .file.display())]
    DataUnreadable {
        symbol: String,
        file: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "input file {} changed since planning: planned sha256 {planned}..., now \
         {current}...; plan the sweep again to run the new version",
        .file.display()
    )]
    InputChanged {
        file: PathBuf,
        planned: String,
        current: String,
    },
    #[error("input file {} cannot be read to check it against the plan: {error}", .file.display())]
    InputUnreadable {
        file: PathBuf,
        error: std::io::Error,
    },
}

/// Checks that `spec` (read from `path`, the sweep's `spec.toml`) is the spec `plan` was
/// made from.
pub fn check_spec_unchanged(plan: &Plan, spec: &Spec, path: &Path) -> Result<(), IdentityError> {
    let current = spec_hash(spec).map_err(|message| IdentityError::SpecUnreadable {
        path: path.to_path_buf(),
        message,
    })?;
    if current != plan.spec_hash {
        return Err(IdentityError::SpecChanged {
            path: path.to_path_buf(),
            plan8: plan.hash8().to_string(),
            planned: prefix(&plan.spec_hash),
            current: prefix(&current),
        });
    }
    Ok(())
}

/// Checks each data file of `plan` (at the path the spec's `[data]` gives its symbol, the
/// file the backtest reads) against the sha256 recorded when the sweep was planned. A spec
/// without `[data]` (a command sweep's) has none to check.
pub fn check_data_unchanged(
    plan: &Plan,
    data: Option<&backtest::DataConfig>,
) -> Result<(), IdentityError> {
    let Some(data) = data else {
        return Ok(());
    };
    for planned in &plan.data {
        let file = data.file_of(&planned.symbol);
        check_file(&file, &planned.sha256).map_err(|e| match e {
            FileCheck::Unreadable(error) => IdentityError::DataUnreadable {
                symbol: planned.symbol.clone(),
                file: file.clone(),
                error,
            },
            FileCheck::Changed(current) => IdentityError::DataChanged {
                symbol: planned.symbol.clone(),
                planned: prefix(&planned.sha256),
                current: prefix(&current),
                file: file.clone(),
            },
        })?;
    }
    Ok(())
}

/// Checks each input file of a command sweep's `plan` (at its planned path) against the
/// sha256 recorded when the sweep was planned.
pub fn check_inputs_unchanged(plan: &Plan) -> Result<(), IdentityError> {
    for planned in &plan.inputs {
        let file = PathBuf::from(&planned.path);
        check_file(&file, &planned.sha256).map_err(|e| match e {
            FileCheck::Unreadable(error) => IdentityError::InputUnreadable {
                file: file.clone(),
                error,
            },
            FileCheck::Changed(current) => IdentityError::InputChanged {
                planned: prefix(&planned.sha256),
                current: prefix(&current),
                file: file.clone(),
            },
        })?;
    }
    Ok(())
}

/// Why a file is not the one planned.
enum FileCheck {
    Unreadable(std::io::Error),
    /// Its sha256 now.
    Changed(String),
}

fn check_file(file: &Path, planned: &str) -> Result<(), FileCheck> {
    let (current, _) = sha256_file(file).map_err(FileCheck::Unreadable)?;
    if current.eq_ignore_ascii_case(planned) {
        Ok(())
    } else {
        Err(FileCheck::Changed(current))
    }
}
