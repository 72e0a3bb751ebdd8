//! `bt-worker run`: one backtest from flags or from a sweep spec file, printed as a summary
//! table; `--json FILE` writes QSTrader's `JSONStatistics` (with a buy-and-hold benchmark
//! when `--benchmark SYMBOL` is given, as QSTrader's examples do).
//!
//! Settings come in two stages: the spec file (`--spec`: its `name`, `strategy`, `[data]`,
//! `[backtest]`, `[rules]` and single-valued `[params]`), then the flags, which override it.
//! A `strategy = "rules"` spec runs its rules: they are compiled and checked for the
//! combination (its windows) before any data is read, each error naming the spec's line
//! and pointing at the column with a caret.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use backtest::data::DataNote;
use backtest::simulator::{run_benchmark, RunOutput};
use backtest::stats::{json_statistics, EquityCurve, StrategyNames, TargetAllocations};
use backtest::{
    registry, run_strategy, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData, Metrics,
    Params, Rebalance,
};
use chrono::NaiveDate;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use sweep_core::command::COMMAND_STRATEGY;
use sweep_core::overrides::parse_override;
use sweep_core::planner::show_rule_error;
use sweep_core::spec::{located, RULES_STRATEGY};
use sweep_core::{Spec, SpecStrategy};

/// Arguments of `bt-worker run`.
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// A sweep spec (TOML): its name, strategy, [data], [backtest], [rules] and
    /// single-valued [params] are used; the flags below override them.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Strategy name (see `bt-worker strategies`); `rules` needs a --spec with [rules].
    #[arg(long)]
    pub strategy: Option<String>,
    /// Directory of `<SYMBOL>.csv` price files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Symbols, comma separated (SPY,AGG).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Price file format: auto, yahoo, pysystemtrade, ohlcv.
    #[arg(long, value_parser = parse_enum::<DataFormat>)]
    pub format: Option<DataFormat>,
    /// First simulated day (signals warm up from here), YYYY-MM-DD.
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Last simulated day, YYYY-MM-DD.
    #[arg(long)]
    pub end: Option<NaiveDate>,
    /// First day of trading and of the equity curve, YYYY-MM-DD.
    #[arg(long)]
    pub burn_in: Option<NaiveDate>,
    /// end_of_month, weekly, daily or buy_and_hold.
    #[arg(long, value_parser = parse_enum::<Rebalance>)]
    pub rebalance: Option<Rebalance>,
    /// Fraction of equity kept in cash when sizing (0.01 = 1%).
    #[arg(long)]
    pub cash_buffer: Option<f64>,
    #[arg(long)]
    pub initial_cash: Option<f64>,
    /// Commission in basis points of traded notional.
    #[arg(long)]
    pub commission_bps: Option<f64>,
    /// Fixed fee per order filled.
    #[arg(long)]
    pub fee_per_trade: Option<f64>,
    /// Slippage in basis points (buys fill above, sells below the open).
    #[arg(long)]
    pub slippage_bps: Option<f64>,
    /// weekdays (QSTrader's) or trading_days (the data's dates).
    #[arg(long, value_parser = parse_enum::<Calendar>)]
    pub calendar: Option<Calendar>,
    /// In-sample / out-of-sample split date, YYYY-MM-DD.
    #[arg(long)]
    pub split: Option<NaiveDate>,
    /// A strategy parameter, `name=value` (repeatable).
    #[arg(short = 'p', long = "param")]
    pub params: Vec<String>,
    /// Parameters from a JSON object file (`{"w_SPY": 0.6}`, as a command sweep's
    /// `{params_json}`); `-p` wins over it.
    #[arg(long)]
    pub params_json: Option<PathBuf>,
    /// Also run a buy-and-hold benchmark of this symbol (loaded from the same directory).
    #[arg(long)]
    pub benchmark: Option<String>,
    /// Write QSTrader's JSONStatistics to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the equity curve (date,equity) to this CSV file.
    #[arg(long)]
    pub equity_csv: Option<PathBuf>,
    /// Write every fill (date,symbol,quantity,price,cost) to this CSV file.
    #[arg(long)]
    pub fills_csv: Option<PathBuf>,
    /// Write the run's summary metrics (as a sweep's result file stores them) to this JSON
    /// file.
    #[arg(long)]
    pub metrics_json: Option<PathBuf>,
    /// The run's id in the JSON output (default: the spec's name, else the strategy).
    #[arg(long)]
    pub name: Option<String>,
}

/// Parses a snake_case value of one of the backtest's serde enums.
fn parse_enum<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    T::deserialize(text.into_deserializer()).map_err(|e: serde::de::value::Error| e.to_string())
}

/// Everything one run needs, after the spec and the flags are merged.
#[derive(Debug)]
pub struct RunRequest {
    pub name: String,
    pub strategy: String,
    pub data: DataConfig,
    pub backtest: BacktestConfig,
    pub params: Params,
    /// The spec file read (`--spec`), which holds the rules of a `rules` strategy.
    pub spec: Option<Spec>,
}

/// Merges the spec file (if any) and the flags.
pub fn request(args: &RunArgs) -> anyhow::Result<RunRequest> {
    let mut name = None;
    let mut strategy = None;
    let mut data = None;
    let mut backtest = BacktestConfig::default();
    let mut params = Params::new();
    let mut read_spec = None;
    if let Some(path) = &args.spec {
        let mut spec =
            Spec::load(path).with_context(|| format!("reading spec {}", path.display()))?;
        spec.resolve_data_dir()?;
        for p in &spec.params {
            let values = p
                .axis
                .expand()
                .map_err(|m| anyhow::anyhow!("spec parameter `{}`: {m}", p.name))?;
            if let Some(first) = values.first() {
                // A parameter given with -p is overridden below: no note for it.
                let overridden = args
                    .params
                    .iter()
                    .any(|t| parse_override(t).is_ok_and(|o| o.name == p.name));
                if values.len() > 1 && !overridden {
                    sweep_core::errln!(
                        "note: the spec gives {} values for `{}`; running with the first, {} \
                         (choose with -p {}=VALUE)",
                        values.len(),
                        p.name,
                        first,
                        p.name
                    );
                }
                params.insert(p.name.clone(), first.clone());
            }
        }
        if spec.strategy == COMMAND_STRATEGY {
            bail!(
                "{}: a `{COMMAND_STRATEGY}` spec runs its program, not a backtest of the engine: \
                 plan it (`sweep plan`), then run one combination with `bt-worker command \
                 --sweep-dir DIR --combo I`",
                path.display()
            );
        }
        name = Some(spec.name.clone());
        strategy = Some(spec.strategy.clone());
        data = spec.data.clone();
        backtest = spec.backtest.clone();
        read_spec = Some(spec);
    }
    if let Some(s) = &args.strategy {
        strategy = Some(s.clone());
    }
    let Some(strategy) = strategy else {
        bail!("no strategy: give --strategy NAME or --spec FILE");
    };
    if strategy == RULES_STRATEGY {
        if read_spec.as_ref().and_then(|s| s.rules.as_ref()).is_none() {
            bail!(
                "strategy `{RULES_STRATEGY}` reads its rules from a spec: give --spec FILE with a \
                 [rules] table (see docs/rules.md)"
            );
        }
    } else if registry::find(&strategy).is_none() {
        return Err(backtest::BacktestError::UnknownStrategy(strategy).into());
    }
    let mut data = match (data, &args.data_dir) {
        (Some(mut d), Some(dir)) => {
            d.dir = dir.clone();
            d
        }
        (Some(d), None) => d,
        (None, Some(dir)) => DataConfig {
            dir: dir.clone(),
            symbols: Vec::new(),
            format: DataFormat::Auto,
        },
        (None, None) => bail!("no data directory: give --data-dir DIR or --spec FILE"),
    };
    if !args.symbols.is_empty() {
        data.symbols = args.symbols.clone();
    }
    if let Some(f) = args.format {
        data.format = f;
    }
    if data.symbols.is_empty() {
        bail!("no symbols: give --symbols A,B or a spec with data.symbols");
    }
    let b = &mut backtest;
    b.start = args.start.or(b.start);
    b.end = args.end.or(b.end);
    b.burn_in = args.burn_in.or(b.burn_in);
    b.split = args.split.or(b.split);
    b.rebalance = args.rebalance.unwrap_or(b.rebalance);
    b.calendar = args.calendar.unwrap_or(b.calendar);
    b.cash_buffer = args.cash_buffer.unwrap_or(b.cash_buffer);
    b.initial_cash = args.initial_cash.unwrap_or(b.initial_cash);
    b.commission_bps = args.commission_bps.unwrap_or(b.commission_bps);
    b.fee_per_trade = args.fee_per_trade.unwrap_or(b.fee_per_trade);
    b.slippage_bps = args.slippage_bps.unwrap_or(b.slippage_bps);
    if let Some(path) = &args.params_json {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading parameters from {}", path.display()))?;
        let given: Params = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: expected a JSON object of parameter values such as {{\"w_SPY\": 0.6}}",
                path.display()
            )
        })?;
        params.extend(given);
    }
    for text in &args.params {
        let o = parse_override(text)?;
        let [value] = o.values.as_slice() else {
            bail!("-p {text}: `run` takes one value per parameter");
        };
        params.insert(o.name, value.clone());
    }
    let name = args
        .name
        .clone()
        .or(name)
        .unwrap_or_else(|| strategy.clone());
    Ok(RunRequest {
        name,
        strategy,
        data,
        backtest,
        params,
        spec: read_spec,
    })
}

/// The request's strategy: a built-in, or the spec's rules compiled for the request's
/// symbols.
fn strategy_of(req: &RunRequest) -> anyhow::Result<SpecStrategy> {
    match &req.spec {
        Some(spec) if req.strategy == RULES_STRATEGY => {
            let mut spec = spec.clone();
            spec.strategy = req.strategy.clone();
            spec.data = Some(req.data.clone());
            Ok(SpecStrategy::of(&spec)?)
        }
        _ => Ok(SpecStrategy::Builtin(
            registry::find(&req.strategy)
                .ok_or_else(|| backtest::BacktestError::UnknownStrategy(req.strategy.clone()))?,
        )),
    }
}

/// Runs one backtest. Exit code 0, or an error.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let req = request(args)?;
    // The settings are checked before any data is read (the simulator checks them again).
    req.backtest.validate().with_context(|| match &args.spec {
        Some(spec) => format!(
            "invalid backtest setting (from [backtest] of {} and the flags)",
            spec.display()
        ),
        None => "invalid backtest setting (from the flags)".to_string(),
    })?;
    let strategy = strategy_of(&req)?;
    let engine = strategy
        .engine()
        .with_context(|| format!("strategy `{}` is not the engine's", req.strategy))?;
    let resolved = engine
        .resolve(&req.data.symbols, &req.params)
        .with_context(|| format!("parameters of strategy `{}`", req.strategy))?;
    if let (SpecStrategy::Rules(rules), Some(spec)) = (&strategy, &req.spec) {
        // The windows of this combination, before any data is read.
        rules.check(&resolved).map_err(|e| {
            let line = spec.rules.as_ref().and_then(|r| r.line_of(&e.rule));
            anyhow::anyhow!("{}: {}", located(&spec.path, line), show_rule_error(&e))
        })?;
    }
    let market = MarketData::load(&req.data, &req.backtest)
        .with_context(|| format!("loading prices from {}", req.data.dir.display()))?;
    let notes = market.notes();
    print_notes(&notes);
    let out = run_strategy(&market, engine, &resolved, &req.backtest)
        .with_context(|| format!("running `{}`", req.strategy))?;
    let bench = match &args.benchmark {
        Some(symbol) => {
            let data = DataConfig {
                symbols: vec![symbol.clone()],
                ..req.data.clone()
            };
            let market = MarketData::load(&data, &req.backtest)
                .with_context(|| format!("loading benchmark {symbol}"))?;
            let new: Vec<DataNote> = market
                .notes()
                .into_iter()
                .filter(|n| !notes.iter().any(|seen| seen.file == n.file))
                .collect();
            print_notes(&new);
            Some(
                run_benchmark(&market, symbol, &req.backtest)
                    .with_context(|| format!("running benchmark {symbol}"))?,
            )
        }
        None => None,
    };

    print_summary(
        &req,
        &resolved,
        &out,
        bench.as_ref().zip(args.benchmark.as_deref()),
    );
    if let Some(path) = &args.json {
        write_json(
            path,
            &req,
            &out,
            bench.as_ref().zip(args.benchmark.as_deref()),
        )?;
        sweep_core::errln!("wrote {}", path.display());
    }
    if let Some(path) = &args.equity_csv {
        write_equity_csv(path, &out)?;
    }
    if let Some(path) = &args.fills_csv {
        write_fills_csv(path, &out)?;
    }
    if let Some(path) = &args.metrics_json {
        let text = serde_json::to_vec_pretty(&out.metrics).context("serialising the metrics")?;
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}

/// What loading skipped or filled, one `note:` line per file, on stderr.
fn print_notes(notes: &[DataNote]) {
    for note in notes {
        sweep_core::errln!("note: {note}");
    }
}

fn print_summary(
    req: &RunRequest,
    resolved: &Params,
    out: &RunOutput,
    bench: Option<(&RunOutput, &str)>,
) {
    let params: Vec<String> = resolved.iter().map(|(k, v)| format!("{k}={v}")).collect();
    sweep_core::outln!(
        "{} ({}) on {}",
        req.name,
        req.strategy,
        req.data.symbols.join(", ")
    );
    if let Some(rules) = req.spec.as_ref().and_then(|s| s.rules.as_ref()) {
        if req.strategy == RULES_STRATEGY {
            for (rule, text) in rules.texts() {
                sweep_core::outln!("rule {rule}: {text}");
            }
        }
    }
    sweep_core::outln!("parameters: {}", params.join(" "));
    if let (Some(first), Some(last)) = (out.dates.first(), out.dates.last()) {
        sweep_core::outln!(
            "period: {first} .. {last} ({} days), rebalance {:?}, {} fills",
            out.dates.len(),
            req.backtest.rebalance,
            out.fills.len()
        );
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["".to_string(), "strategy".to_string()];
    if let Some((_, symbol)) = bench {
        header.push(format!("{symbol} buy and hold"));
    }
    table.set_header(header);
    let final_equity = |o: &RunOutput| o.equity.last().copied().unwrap_or(f64::NAN);
    let mut row = |label: &str, f: &dyn Fn(&RunOutput) -> String| {
        let mut cells = vec![label.to_string(), f(out)];
        if let Some((b, _)) = bench {
            cells.push(f(b));
        }
        table.add_row(cells);
    };
    row("final equity", &|o| format!("{:.2}", final_equity(o)));
    let metric = |get: fn(&Metrics) -> f64, pct: bool| {
        move |o: &RunOutput| {
            let v = get(&o.metrics);
            if pct {
                format!("{:.2}%", 100.0 * v)
            } else {
                format!("{v:.4}")
            }
        }
    };
    row("total return", &metric(|m| m.total_return, true));
    row("CAGR", &metric(|m| m.cagr, true));
    row("Sharpe", &metric(|m| m.sharpe, false));
    row("Sortino", &metric(|m| m.sortino, false));
    row("annualised vol", &metric(|m| m.annualised_vol, true));
    row("max drawdown", &metric(|m| m.max_drawdown, true));
    row("max drawdown days", &|o| {
        count_text(o.metrics.max_drawdown_duration)
    });
    row("Calmar", &metric(|m| m.calmar, false));
    row("trades", &|o| count_text(o.metrics.trades));
    row("turnover / year", &metric(|m| m.turnover, false));
    row("exposure", &metric(|m| m.exposure, true));
    sweep_core::outln!("{table}");
    for (label, m) in [
        ("in-sample", &out.in_sample),
        ("out-of-sample", &out.out_of_sample),
    ] {
        if let Some(m) = m {
            sweep_core::outln!(
                "{label}: sharpe {:.4}, cagr {:.2}%, max drawdown {:.2}%, {} days",
                m.sharpe,
                100.0 * m.cagr,
                100.0 * m.max_drawdown,
                count_text(m.n_obs)
            );
        }
    }
}

/// A count, `-` when unknown.
fn count_text(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// The allocations with columns in sorted symbol order (QSTrader's asset order).
fn target_allocations(out: &RunOutput) -> TargetAllocations {
    let mut order: Vec<usize> = (0..out.symbols.len()).collect();
    order.sort_by(|a, b| out.symbols[*a].cmp(&out.symbols[*b]));
    TargetAllocations {
        symbols: order.iter().map(|i| out.symbols[*i].clone()).collect(),
        rows: out
            .allocations
            .iter()
            .map(|a| (a.date, order.iter().map(|i| a.weights[*i]).collect()))
            .collect(),
    }
}

fn write_json(
    path: &Path,
    req: &RunRequest,
    out: &RunOutput,
    bench: Option<(&RunOutput, &str)>,
) -> anyhow::Result<()> {
    let names = StrategyNames {
        strategy_id: Some(req.name.clone()),
        strategy_name: Some(format!("{} ({})", req.name, req.strategy)),
        benchmark_id: bench.map(|(_, s)| format!("{}_buy_and_hold", s.to_lowercase())),
        benchmark_name: bench.map(|(_, s)| format!("{s} Buy and Hold")),
    };
    let allocations = target_allocations(out);
    let stats = json_statistics(
        EquityCurve {
            dates: &out.dates,
            equity: &out.equity,
        },
        Some(&allocations),
        bench.map(|(b, _)| EquityCurve {
            dates: &b.dates,
            equity: &b.equity,
        }),
        &names,
    )
    .context("computing the JSON statistics")?;
    let text = serde_json::to_string(&stats)?;
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn write_equity_csv(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let mut text = String::from("date,equity\n");
    for (d, e) in out.dates.iter().zip(&out.equity) {
        text.push_str(&format!("{d},{e:?}\n"));
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn write_fills_csv(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let mut file =
        fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "date,symbol,quantity,price,cost")?;
    for f in &out.fills {
        writeln!(
            file,
            "{},{},{},{:?},{:?}",
            f.date, out.symbols[f.symbol], f.quantity, f.price, f.cost
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtest::ParamValue;

    #[test]
    fn flags_build_the_request() {
        let args = RunArgs {
            strategy: Some("fixed_weights".into()),
            data_dir: Some("/data".into()),
            symbols: vec!["SPY".into(), "AGG".into()],
            rebalance: Some(Rebalance::Weekly),
            cash_buffer: Some(0.02),
            params: vec!["w_SPY=0.6".into(), "w_AGG=0.4".into()],
            ..RunArgs::default()
        };
        let req = request(&args).expect("valid flags");
        assert_eq!(req.name, "fixed_weights");
        assert_eq!(req.data.symbols, ["SPY", "AGG"]);
        assert_eq!(req.backtest.rebalance, Rebalance::Weekly);
        assert_eq!(req.backtest.cash_buffer, 0.02);
        assert_eq!(req.backtest.initial_cash, 1_000_000.0);
        assert_eq!(req.params["w_SPY"], ParamValue::Float(0.6));
    }

    #[test]
    fn bad_requests_are_errors() {
        let mut args = RunArgs {
            strategy: Some("fixed_weight".into()),
            data_dir: Some("/data".into()),
            symbols: vec!["SPY".into()],
            ..RunArgs::default()
        };
        let err = request(&args).unwrap_err().to_string();
        assert!(err.contains("did you mean `fixed_weights`"), "{err}");
        args.strategy = Some("fixed_weights".into());
        args.params = vec!["w_SPY=0.5,0.6".into()];
        assert!(request(&args).is_err(), "a list is not one value");
        args.params.clear();
        args.symbols.clear();
        assert!(request(&args).is_err(), "no symbols");
    }

    #[test]
    fn enums_parse_in_snake_case() {
        assert_eq!(
            parse_enum::<Rebalance>("end_of_month"),
            Ok(Rebalance::EndOfMonth)
        );
        assert_eq!(
            parse_enum::<Calendar>("trading_days"),
            Ok(Calendar::TradingDays)
        );
        assert!(parse_enum::<Rebalance>("monthly").is_err());
    }
}
