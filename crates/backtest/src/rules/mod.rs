//! Rules: strategies written in the spec as expressions (`strategy = "rules"`).
//!
//! (The full semantics are documented here as they are built.)

mod cache;
mod check;
mod compile;
mod def;
mod error;
mod eval;
mod functions;
mod indicators;
mod ir;
mod strategy;
mod task;

pub use cache::CACHE_BUDGET_BYTES;
pub use compile::Rules;
pub use def::{DeclType, ParamDecl, RulesDef};
pub use error::RuleError;
pub use functions::{function, functions, ArgKind, FunctionDoc, Returns, SERIES};
pub(crate) use task::RulesTask;
