//! `bt-worker strategies`: lists the registered strategies and their parameters (name,
//! type, default, range, help), as a table or as JSON.

use backtest::{registry, ParamSpec};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;

/// Arguments of `bt-worker strategies`.
#[derive(Debug, clap::Args)]
pub struct StrategiesArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The symbols to declare per-symbol parameters for (e.g. fixed_weights' `w_SPY`).
    #[arg(long, value_delimiter = ',', default_value = "SYMBOL")]
    pub symbols: Vec<String>,
}

/// One strategy as listed.
#[derive(Debug, Serialize)]
pub struct StrategyListing {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: Vec<ParamSpec>,
}

/// The listing of every strategy for `symbols`.
pub fn listing(symbols: &[String]) -> Vec<StrategyListing> {
    registry::all()
        .iter()
        .map(|s| StrategyListing {
            name: s.name,
            summary: s.summary,
            params: s.params(symbols),
        })
        .collect()
}

/// Prints the listing. Always exit code 0.
pub fn run(args: &StrategiesArgs) -> anyhow::Result<u8> {
    let list = listing(&args.symbols);
    if args.json {
        sweep_core::outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    for (k, s) in list.iter().enumerate() {
        if k > 0 {
            sweep_core::outln!();
        }
        sweep_core::outln!("{}: {}", s.name, s.summary);
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["parameter", "type", "default", "range", "help"]);
        for p in &s.params {
            table.add_row([
                p.name.clone(),
                p.kind.to_string(),
                p.default.to_string(),
                range_text(p),
                p.help.clone(),
            ]);
        }
        sweep_core::outln!("{table}");
    }
    Ok(0)
}

fn range_text(p: &ParamSpec) -> String {
    match (p.min, p.max) {
        (Some(lo), Some(hi)) => format!("[{lo}, {hi}]"),
        (Some(lo), None) => format!(">= {lo}"),
        (None, Some(hi)) => format!("<= {hi}"),
        (None, None) => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_declares_per_symbol_weights() {
        let list = listing(&["SPY".to_string(), "AGG".to_string()]);
        let fixed = list
            .iter()
            .find(|s| s.name == "fixed_weights")
            .expect("fixed_weights is registered");
        let names: Vec<_> = fixed.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["w_SPY", "w_AGG"]);
        let json = serde_json::to_value(&list).expect("serialisable");
        assert!(json.as_array().is_some_and(|a| a.len() == list.len()));
    }
}
