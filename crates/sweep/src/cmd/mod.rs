//! One module per `sweep` subcommand, each with its `Args` and a `run()`.

pub mod data_import;
pub mod demo;
pub mod install;
pub mod plan;
pub mod resubmit;
pub mod run;
pub mod smoke;
pub mod status;
pub mod submit;
