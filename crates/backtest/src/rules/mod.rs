//! Rules: strategies written in the spec as expressions (`strategy = "rules"`), compiled
//! once per task into vectorised operations over whole series and run by the same simulator
//! as the built-in strategies.
//!
//! This is the reference of the semantics (docs/rules.md is written from it).
//!
//! # The three forms
//!
//! A `[rules]` table ([`RulesDef`]) holds exactly one form:
//!
//! 1. **`position`**, per symbol: a bool (true = long `w`, false = flat) or a number (a
//!    signed weight: `0.5` is 50% of the cash-buffered equity long, `-1` 100% short).
//!    `w = 1 / number of symbols`: on one symbol, true is a weight of 1, as the built-in
//!    `ma_cross`.
//! 2. **`entry` / `exit`** (both required) and optional **`size`**: per symbol, flat until a
//!    decision day on which `entry` holds, then long with the weight `size` had that day
//!    (default `w`) until a decision day on which `exit` holds. While in a position only
//!    `exit` is checked; while flat only `entry` (a day that exits does not re-enter). The
//!    weight is fixed at entry (no re-sizing while held); a negative `size` enters short; a
//!    `size` that is undefined or 0 on the entry day does not enter. Every symbol starts flat
//!    on the first decision day (the burn-in date).
//! 3. **`rank` / `top`** (both required), optional **`filter`** and **`weight`**: on every
//!    decision day, the symbols whose `rank` is defined and whose `filter` holds (when given)
//!    are sorted by `rank`, highest first (ties keep the universe order), and the first `top`
//!    are held. Each of the `top` slots is worth `1 / top` of the equity: with `weight =
//!    "equal"` (the default) each held symbol gets `1 / top`; with a number expression the
//!    held symbols share their slots (`held / top` of the equity) in proportion to their
//!    `weight` (a symbol whose weight is undefined or not positive is not held). So with
//!    fewer than `top` eligible symbols the empty slots stay in cash (as the built-in
//!    `momentum_taa`, whose weight is `1 / top_n` whatever happens), and when all `top`
//!    are held the weights sum to 1. `top` is a number of the combination (parameters and
//!    literals): a positive whole number, at most the number of symbols.
//!
//! # Timing
//!
//! A rule is evaluated after day D's close and sees data up to D's close only: every
//! function reads days `..= D` (`indicators.rs`), so no rule can look ahead. Its target is
//! filled at D+1's open by the simulator (QSTrader 0.3.0 semantics: costs, calendar,
//! burn-in, split all as for every strategy). Rules are evaluated on the `[backtest]
//! rebalance` schedule (`rebalance = "daily"` for a daily signal; `"buy_and_hold"` is
//! refused: it decides at the first day's open, before the close a rule reads). Forms 1 and
//! 2 trade only
//! on a decision day whose target differs from the last one decided (no re-sizing while the
//! target is unchanged, as the built-in `ma_cross`); form 3 rebalances on every decision day
//! (as QSTrader's momentum example and the built-in `momentum_taa`). The first decision day
//! always records its targets (all flat during a warm-up).
//!
//! Series are computed from the run's first simulated day (`start`), as the built-ins'
//! signals: the days before `start` in the data are not used. Days count calendar days of
//! the run (on the `weekdays` calendar a holiday repeats the last close and counts, as in
//! QSTrader).
//!
//! # Values, types and undefined
//!
//! Names: the price series `open high low close volume` (per symbol per day; open, high and
//! low adjusted as the close; on a calendar day without a row the prices repeat the last
//! close and volume is 0), `w`, and the parameters declared in `[rules.params]` (scalars:
//! one value per combination). Literals: numbers, `true`/`false`, and strings (only to
//! compare a `choice` parameter: `kind == 'ema'`).
//!
//! Every value is a number or a bool, and a scalar or a series; a scalar is broadcast where
//! a series is needed. The types are checked when the rules are compiled ([`Rules::compile`]):
//! arithmetic (`+ - * / %`, unary `-`) and `< <= > >=` take numbers; `and or not` take bools;
//! `== !=` compare two numbers, two bools or two strings; there is no implicit conversion
//! between bools and numbers (write `if(c, 1, 0)`). Window arguments (`n`) must be scalar
//! numbers; each combination's windows, and `top`, are checked to be positive whole numbers
//! ([`Rules::check`]).
//!
//! *Undefined* values: an indicator before it has enough days, any price before a symbol's
//! first price, the result of a division by zero or another non-finite arithmetic result,
//! `log` of a number `<= 0`. Comparisons, arithmetic and logic are three-valued: **any**
//! undefined operand makes the result undefined (`false and undefined` is undefined too);
//! `if(c, a, b)` with an undefined `c` is undefined. A position, size, weight, rank or
//! filter that is undefined means **flat for that symbol** (not short, not held); an
//! `entry` or `exit` that is undefined does not fire. So `if(sma(close, 50) > sma(close,
//! 200), 1, -1)` is flat during the warm-up, exactly as the built-in long/short `ma_cross`.
//!
//! A window needs that many days of defined values ending today: an undefined day inside a
//! computed series (say a division by zero) makes every window containing it undefined, and
//! rolling state (sums, EMAs, Wilder's averages) starts over after it, as on a symbol's first
//! price. `%` is the remainder with the sign of the dividend (as in Rust and C).
//!
//! # Functions
//!
//! [`functions`] lists them with their arguments and one line each. Details that matter:
//! `ema(x, n)`: alpha `2 / (n + 1)`, seeded with the first value, defined from the n-th
//! (as the built-in `ma_cross`); `std(x, n)`: population (ddof 0); `zscore(x, n)`: undefined
//! where the deviation is 0; `rsi(x, n)` and `atr(n)`: Wilder's smoothing, seeded with the
//! plain mean of the first `n` changes / true ranges, so defined from the (n+1)-th day;
//! `highest`/`lowest`: over the n days ending today, today included (`lag(highest(high,
//! 20), 1)` is the 20 days before today); `crossover(a, b)`: `a > b` today and `a <= b`
//! yesterday; `rank(x)`: across the symbols each day, 1 = highest, ties share the mean of
//! their ranks, undefined stays undefined.
//!
//! # Equal to the built-ins
//!
//! `sma` is computed with the operations of the built-in `ma_cross` (a plain sum of the
//! first window, then rolling, times `1 / n`) and `ema` with its recurrence, and `ret` is
//! `momentum_taa`'s `close[d] / close[d - n] - 1`, so the rules forms of those strategies
//! give the built-ins' runs bit for bit (tests/rules_equal_builtins.rs). One documented
//! difference: on the `lookback`-th day of a run (before a full `lookback + 1` closes) the
//! built-in `momentum_taa` ranks by the return since the first day (QSTrader's warm-up
//! quirk), where `ret(close, lookback)` is still undefined; the two differ only if that day
//! is a decision day.
//!
//! # Speed
//!
//! A task runs many combinations of one rules strategy over one data set
//! ([`TaskRunner`](crate::TaskRunner)): the series two or more of its combinations compute
//! alike (the 20-day SMA of an MA-cross grid) are computed once and shared across threads
//! (`cache`), within [`CACHE_BUDGET_BYTES`].

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
pub use def::{DeclType, ParamDecl, RulesDef, SPEC_SYNTAX};
pub use error::RuleError;
pub use functions::{function, functions, ArgKind, FunctionDoc, Returns, SERIES};
pub(crate) use task::RulesTask;
