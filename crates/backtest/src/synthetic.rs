//! A deterministic synthetic market (clearly labelled as synthetic) for the demo and the
//! default tests.
//!
//! [`write_market`] writes one Yahoo-format CSV per symbol plus a `SYNTHETIC.md` saying that
//! the data is made up, with the seed and the generator. Prices follow a geometric Brownian
//! motion (Euler steps of `1 + mu dt + sigma sqrt(dt) z`) whose shocks share a common
//! market factor, so symbols are correlated. Only `+ - * /` and `sqrt` (all exactly rounded
//! by IEEE 754) are used, never `exp`/`ln`/`cos` from the platform's maths library, and the
//! random numbers come from an inline splitmix64: the same seed gives the same bytes on
//! every machine.
//!
//! Each symbol's own shocks are seeded from the seed and the symbol's name, and the market
//! factor from the seed alone, so a symbol's prices do not depend on which other symbols are
//! written with it.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};

/// The demo's symbols: `SYNA` equity-like, `SYNB` bond-like, `SYNC` volatile growth, `SYND`
/// flat and volatile.
pub const DEMO_SYMBOLS: [&str; 4] = ["SYNA", "SYNB", "SYNC", "SYND"];

/// The seed the demo uses.
pub const DEMO_SEED: u64 = 20_250_107;

/// The name of the file that labels a directory as synthetic.
pub const LABEL_FILE: &str = "SYNTHETIC.md";

const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// splitmix64 (Steele, Lea and Flood 2014): a tiny, well-mixed 64-bit generator.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Approximately standard normal: the Irwin–Hall sum of 12 uniforms minus 6 (mean 0,
    /// variance 1, bounded by ±6). Uses additions only, so it is exact on every machine.
    pub fn next_normal(&mut self) -> f64 {
        let mut sum = 0.0;
        for _ in 0..12 {
            sum += self.next_f64();
        }
        sum - 6.0
    }
}

/// FNV-1a hash of a symbol name, to seed its own random stream.
fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

/// How one synthetic symbol moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// Annual drift.
    pub drift: f64,
    /// Annual volatility.
    pub vol: f64,
    /// Correlation of the daily shock with the common market factor.
    pub market_correlation: f64,
    /// First close.
    pub start_price: f64,
    /// Annual dividend yield: `Adj Close` is `Close` scaled down before each payout.
    pub dividend_yield: f64,
}

/// The profile of `symbol`: fixed for the demo symbols, derived from the name otherwise.
pub fn profile(symbol: &str) -> Profile {
    let fixed = |drift, vol, market_correlation, start_price, dividend_yield| Profile {
        drift,
        vol,
        market_correlation,
        start_price,
        dividend_yield,
    };
    match symbol {
        "SYNA" => fixed(0.08, 0.18, 0.9, 100.0, 0.015),
        "SYNB" => fixed(0.03, 0.05, 0.2, 80.0, 0.03),
        "SYNC" => fixed(0.12, 0.32, 0.7, 40.0, 0.0),
        "SYND" => fixed(0.01, 0.22, 0.5, 60.0, 0.02),
        other => {
            let mut rng = SplitMix64::new(name_hash(other));
            fixed(
                -0.02 + 0.14 * rng.next_f64(),
                0.08 + 0.30 * rng.next_f64(),
                0.2 + 0.7 * rng.next_f64(),
                20.0 + 180.0 * rng.next_f64(),
                0.03 * rng.next_f64(),
            )
        }
    }
}

/// The days the synthetic exchange is open: Monday to Friday except 1 January, 4 July and
/// 25 December.
pub fn is_trading_day(date: NaiveDate) -> bool {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let holiday = matches!((date.month(), date.day()), (1, 1) | (7, 4) | (12, 25));
    !weekend && !holiday
}

/// One symbol's rows: date, open, high, low, close, adjusted close, volume.
struct Bar {
    date: NaiveDate,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: u64,
}

fn simulate(
    symbol: &str,
    days: &[NaiveDate],
    market_shocks: &[f64],
    seed: u64,
) -> (Vec<Bar>, Profile) {
    let profile = profile(symbol);
    let mut rng = SplitMix64::new(seed ^ name_hash(symbol).rotate_left(17));
    let dt = 1.0 / TRADING_DAYS_PER_YEAR;
    let step_vol = profile.vol * dt.sqrt();
    let rho = profile.market_correlation;
    let own_weight = (1.0 - rho * rho).sqrt();
    let mut bars = Vec::with_capacity(days.len());
    let mut close = profile.start_price;
    for (index, &date) in days.iter().enumerate() {
        let previous = close;
        if index > 0 {
            let shock = rho * market_shocks[index] + own_weight * rng.next_normal();
            close = previous * (1.0 + profile.drift * dt + step_vol * shock);
        }
        // The open moves from the previous close by a small overnight gap.
        let gap = 0.25 * step_vol * rng.next_normal();
        let open = previous * (1.0 + gap);
        let range = 0.5 * step_vol * rng.next_f64();
        let high = open.max(close) * (1.0 + range);
        let low = open.min(close) * (1.0 - range);
        let volume = 500_000 + rng.next_u64() % 1_500_000;
        bars.push(Bar {
            date,
            open,
            high,
            low,
            close,
            volume,
        });
    }
    (bars, profile)
}

/// Writes `<dir>/<SYMBOL>.csv` for each symbol (Yahoo format, trading days from `start` to
/// `end`, see [`is_trading_day`]) and `<dir>/SYNTHETIC.md`. Creates `dir` if needed. Returns
/// the CSV paths in symbol order. The same arguments always give the same bytes.
pub fn write_market(
    dir: &Path,
    symbols: &[&str],
    start: NaiveDate,
    end: NaiveDate,
    seed: u64,
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let days: Vec<NaiveDate> = start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| is_trading_day(*d))
        .collect();
    let mut market = SplitMix64::new(seed);
    let market_shocks: Vec<f64> = days.iter().map(|_| market.next_normal()).collect();
    let mut paths = Vec::with_capacity(symbols.len());
    let mut profiles = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let (bars, profile) = simulate(symbol, &days, &market_shocks, seed);
        // Dividends: the adjustment factor falls by a day's yield per day going back from
        // the last row, where Adj Close = Close.
        let daily_yield = profile.dividend_yield / TRADING_DAYS_PER_YEAR;
        let mut factors = vec![1.0; bars.len()];
        for index in (0..bars.len().saturating_sub(1)).rev() {
            factors[index] = factors[index + 1] * (1.0 - daily_yield);
        }
        let mut text = String::with_capacity(64 * (bars.len() + 1));
        text.push_str("Date,Open,High,Low,Close,Adj Close,Volume\n");
        for (bar, factor) in bars.iter().zip(&factors) {
            // Writing to a String cannot fail.
            let _ = writeln!(
                text,
                "{},{:.6},{:.6},{:.6},{:.6},{:.6},{}",
                bar.date,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.close * factor,
                bar.volume
            );
        }
        let path = dir.join(format!("{symbol}.csv"));
        fs::write(&path, text)?;
        paths.push(path);
        profiles.push((symbol, profile));
    }
    fs::write(
        dir.join(LABEL_FILE),
        label(symbols, &profiles, start, end, seed),
    )?;
    Ok(paths)
}

fn label(
    symbols: &[&str],
    profiles: &[(&&str, Profile)],
    start: NaiveDate,
    end: NaiveDate,
    seed: u64,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# SYNTHETIC DATA — NOT REAL MARKET PRICES\n");
    let _ = writeln!(
        text,
        "The CSV files in this directory ({}) were generated by slurm-sweep's \
         `backtest::synthetic::write_market` (crate version {}). They are made up, for demos \
         and tests only.\n",
        symbols.join(", "),
        env!("CARGO_PKG_VERSION"),
    );
    let _ = writeln!(text, "- seed: {seed}");
    let _ = writeln!(
        text,
        "- dates: {start} to {end}, Monday to Friday except 1 January, 4 July and 25 December"
    );
    let _ = writeln!(
        text,
        "- generator: geometric Brownian motion, daily Euler steps `1 + mu/252 + sigma*sqrt(1/252)*z`, \
         z = rho*market + sqrt(1-rho^2)*own; normals are Irwin-Hall sums of 12 splitmix64 uniforms"
    );
    let _ = writeln!(
        text,
        "- format: Yahoo daily CSV; `Adj Close` = Close scaled for a constant dividend yield\n"
    );
    let _ = writeln!(
        text,
        "| symbol | drift | vol | rho | start price | dividend yield |"
    );
    let _ = writeln!(text, "|---|---|---|---|---|---|");
    for (symbol, p) in profiles {
        let _ = writeln!(
            text,
            "| {symbol} | {:.4} | {:.4} | {:.3} | {:.2} | {:.4} |",
            p.drift, p.vol, p.market_correlation, p.start_price, p.dividend_yield
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of splitmix64 seeded with 1234567 (from the reference C code by
        // Sebastiano Vigna, as listed in many test suites).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut rng = SplitMix64::new(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn holidays_are_closed() {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert!(!is_trading_day(ymd(2024, 12, 25))); // Wednesday
        assert!(!is_trading_day(ymd(2024, 1, 1))); // Monday
        assert!(!is_trading_day(ymd(2024, 7, 6))); // Saturday
        assert!(is_trading_day(ymd(2024, 7, 5))); // Friday
    }
}
