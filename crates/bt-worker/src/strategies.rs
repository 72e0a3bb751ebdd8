//! `bt-worker strategies`: lists the registered strategies and their parameters (name,
//! type, default, range, help), then `rules` (strategies written in the spec) with its spec
//! syntax, its series and the engine's function table, then `command` (any program per
//! combination) with its spec syntax, placeholders, environment and output formats, as
//! tables or as JSON.

use backtest::rules::{functions, ArgKind, Returns, SERIES, SPEC_SYNTAX};
use backtest::{registry, ParamSpec};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use sweep_core::command::{OutputFormat, BUILTIN_PLACEHOLDERS};

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
    /// The declared parameters (for `rules`: none; the spec declares them).
    pub params: Vec<ParamSpec>,
    /// For `rules`: how it is written and what the language has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesListing>,
    /// For `command`: how it is written and what the program gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandListing>,
}

/// What `command` offers: the spec syntax, the placeholders, the environment, the outputs.
#[derive(Debug, Serialize)]
pub struct CommandListing {
    /// A spec's `strategy`, `[command]` and `[command.params]`, as TOML with comments.
    pub syntax: &'static str,
    /// `{name}` placeholders of the worker's (besides the declared parameters).
    pub placeholders: Vec<NameDoc>,
    /// The variables every run gets.
    pub environment: Vec<NameDoc>,
    /// The formats of `output`.
    pub outputs: Vec<NameDoc>,
}

/// A name and what it is.
#[derive(Debug, Serialize)]
pub struct NameDoc {
    pub name: String,
    pub doc: &'static str,
}

/// The one-line summary of `command`.
pub const COMMAND_SUMMARY: &str = "any program as the backtest of a combination (a QSTrader \
     script, a container's entry point): run once per combination with its values as \
     arguments and environment, its equity curve or metrics read back";

/// What `command` offers, from the contract's tables.
pub fn command_listing() -> CommandListing {
    let p = sweep_core::command::ENV_PREFIX;
    CommandListing {
        syntax: sweep_core::command::SPEC_SYNTAX,
        placeholders: BUILTIN_PLACEHOLDERS
            .iter()
            .map(|(n, doc)| NameDoc {
                name: format!("{{{n}}}"),
                doc,
            })
            .collect(),
        environment: [
            ("PARAM_<name>", "every parameter's value, name as declared"),
            ("PARAMS_JSON", "{params_json}"),
            ("RESULT", "{result}"),
            ("OUTPUT", "the output format"),
            ("SCRATCH", "{scratch}"),
            ("COMBO", "{combo}"),
            ("TASK", "{task}"),
        ]
        .into_iter()
        .map(|(n, doc)| NameDoc {
            name: format!("{p}{n}"),
            doc,
        })
        .collect(),
        outputs: OutputFormat::ALL
            .iter()
            .map(|f| NameDoc {
                name: f.name().to_string(),
                doc: match f {
                    OutputFormat::QstraderJson => {
                        "QSTrader's JSONStatistics.to_file(): statistics from strategy.equity_curve"
                    }
                    OutputFormat::EquityCsv => {
                        "a CSV of date,equity: statistics from the curve (trades, turnover, exposure unknown)"
                    }
                    OutputFormat::MetricsJson => {
                        "a flat JSON object of metrics ({\"sharpe\": 1.2}): the others unknown"
                    }
                },
            })
            .collect(),
    }
}

/// What `rules` offers: the spec syntax, the series and the functions.
#[derive(Debug, Serialize)]
pub struct RulesListing {
    /// A spec's `[rules]` and `[rules.params]`, as TOML with comments (the engine's
    /// `SPEC_SYNTAX`); `[params]` then sweeps the declared parameters as for any strategy.
    pub syntax: &'static str,
    /// Where the language is documented.
    pub reference: &'static str,
    pub series: Vec<SeriesListing>,
    pub functions: Vec<FunctionListing>,
}

/// One series of the rules language.
#[derive(Debug, Serialize)]
pub struct SeriesListing {
    pub name: &'static str,
    pub doc: &'static str,
}

/// One function of the rules language, from the engine's table.
#[derive(Debug, Serialize)]
pub struct FunctionListing {
    pub name: &'static str,
    pub signature: &'static str,
    /// `[{"name": "x", "kind": "number"}, {"name": "n", "kind": "window"}]`.
    pub args: Vec<ArgListing>,
    pub returns: &'static str,
    pub doc: &'static str,
}

/// One argument of a function.
#[derive(Debug, Serialize)]
pub struct ArgListing {
    pub name: &'static str,
    pub kind: &'static str,
}

/// The one-line summary of `rules`.
pub const RULES_SUMMARY: &str = "your own strategy, written in the spec as trading rules \
     (expressions over prices, indicators and parameters), checked by `sweep plan` and \
     compiled once per task";

fn kind_name(k: ArgKind) -> &'static str {
    match k {
        ArgKind::Number => "number",
        ArgKind::Bool => "bool",
        ArgKind::Window => "window",
        ArgKind::Same => "number or bool",
    }
}

fn returns_name(r: Returns) -> &'static str {
    match r {
        Returns::NumberSeries => "number series",
        Returns::BoolSeries => "bool series",
        Returns::Number => "number (a series if an argument is)",
        Returns::Same => "the type of its branches",
    }
}

/// What `rules` offers, from the engine's tables.
pub fn rules_listing() -> RulesListing {
    RulesListing {
        syntax: SPEC_SYNTAX,
        reference: "docs/rules.md",
        series: SERIES
            .iter()
            .map(|(name, doc)| SeriesListing { name, doc })
            .collect(),
        functions: functions()
            .iter()
            .map(|f| FunctionListing {
                name: f.name,
                signature: f.signature,
                args: f
                    .args
                    .iter()
                    .map(|(name, kind)| ArgListing {
                        name,
                        kind: kind_name(*kind),
                    })
                    .collect(),
                returns: returns_name(f.returns),
                doc: f.doc,
            })
            .collect(),
    }
}

/// The listing of every strategy for `symbols`, `rules` last.
pub fn listing(symbols: &[String]) -> Vec<StrategyListing> {
    let mut list: Vec<StrategyListing> = registry::all()
        .iter()
        .map(|s| StrategyListing {
            name: s.name,
            summary: s.summary,
            params: s.params(symbols),
            rules: None,
            command: None,
        })
        .collect();
    list.push(StrategyListing {
        name: sweep_core::spec::RULES_STRATEGY,
        summary: RULES_SUMMARY,
        params: Vec::new(),
        rules: Some(rules_listing()),
        command: None,
    });
    list.push(StrategyListing {
        name: sweep_core::command::COMMAND_STRATEGY,
        summary: COMMAND_SUMMARY,
        params: Vec::new(),
        rules: None,
        command: Some(command_listing()),
    });
    list
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
        if let Some(rules) = &s.rules {
            print_rules(rules);
            continue;
        }
        if let Some(command) = &s.command {
            print_command(command);
            continue;
        }
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

fn print_rules(rules: &RulesListing) {
    sweep_core::outln!("spec syntax (the language: {}):", rules.reference);
    for line in rules.syntax.lines() {
        sweep_core::outln!("    {line}");
    }
    sweep_core::outln!(
        "    [params]                # the grid, as for any strategy: fast = [10, 20, 50]"
    );
    let series: Vec<&str> = rules.series.iter().map(|s| s.name).collect();
    sweep_core::outln!(
        "series (per symbol, per day, up to the decision day's close): {}",
        series.join(", ")
    );
    sweep_core::outln!(
        "operators: + - * / %, < <= > >= == !=, and or not; numbers, true/false, parameter names"
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["function", "returns", "what"]);
    for f in &rules.functions {
        table.add_row([f.signature, f.returns, f.doc]);
    }
    sweep_core::outln!("{table}");
}

fn print_command(command: &CommandListing) {
    sweep_core::outln!("spec syntax:");
    for line in command.syntax.lines() {
        sweep_core::outln!("    {line}");
    }
    sweep_core::outln!("    ");
    sweep_core::outln!(
        "    [params]                       # the grid, as for any strategy: w_SPY = {{ from = 0.0, to = 1.0, step = 0.1 }}"
    );
    sweep_core::outln!(
        "argv goes to execve as written (never a shell); a placeholder is a whole argument: \
         `{{name}}` of a declared parameter, or one of the worker's below; every run also gets \
         these variables and writes one of these outputs to {{result}}:"
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["placeholder / variable / output", "what"]);
    for n in command
        .placeholders
        .iter()
        .chain(&command.environment)
        .chain(&command.outputs)
    {
        table.add_row([n.name.as_str(), n.doc]);
    }
    sweep_core::outln!("{table}");
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

    #[test]
    fn command_is_listed_last_with_its_syntax() {
        let list = listing(&["SPY".to_string()]);
        let command = list.last().expect("command");
        assert_eq!(command.name, "command");
        let c = command.command.as_ref().expect("the command listing");
        assert!(c.syntax.contains("[command.params]"));
        assert_eq!(c.placeholders.len(), BUILTIN_PLACEHOLDERS.len());
        assert_eq!(c.outputs.len(), 3);
        let json = serde_json::to_value(command).expect("serialisable");
        assert_eq!(
            json["command"]["environment"][0]["name"],
            "SWEEP_PARAM_<name>"
        );
    }

    #[test]
    fn rules_is_listed_with_its_syntax_and_every_function() {
        let list = listing(&["SPY".to_string()]);
        let rules = list.iter().find(|s| s.name == "rules").expect("rules");
        assert_eq!(rules.name, "rules");
        let r = rules.rules.as_ref().expect("the rules listing");
        assert!(r.syntax.contains("[rules.params]"));
        assert_eq!(r.functions.len(), functions().len());
        let json = serde_json::to_value(rules).expect("serialisable");
        let sma = &json["rules"]["functions"]
            .as_array()
            .expect("functions")
            .iter()
            .find(|f| f["name"] == "sma")
            .expect("sma")["args"];
        assert_eq!(sma[1]["kind"], "window");
        assert_eq!(json["rules"]["series"][3]["name"], "close");
    }
}
