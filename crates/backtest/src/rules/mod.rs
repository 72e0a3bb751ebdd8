//! Rules: strategies written in the spec as expressions (`strategy = "rules"`).
//!
//! (The full semantics are documented here as they are built.)

mod compile;
mod def;
mod error;
mod functions;

pub use compile::Rules;
pub use def::{DeclType, ParamDecl, RulesDef};
pub use error::RuleError;
pub use functions::{function, functions, ArgKind, FunctionDoc, Returns, SERIES};
