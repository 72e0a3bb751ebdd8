#!/usr/bin/env python3
"""Run the QSTrader 0.3.0 reference backtests and write their outputs.

Usage:
    run_qstrader.py OUTDIR [--only sixty_forty|momentum_taa ...]

Backtests (both mirror QSTrader's own examples, see SEMANTICS.md):
  sixty_forty   SPY 0.6 / AGG 0.4, end_of_month rebalance,
                2003-09-30 .. 2020-12-31, benchmark SPY buy and hold.
  momentum_taa  top-3 126-day momentum over XLB XLE XLF XLI XLK XLP XLU
                XLV XLY (StaticUniverse), 1998-12-22 .. 2020-12-31,
                burn-in 1999-12-22, end_of_month rebalance, benchmark
                SPY buy and hold from the burn-in date.

Files written into OUTDIR for each backtest NAME:
  NAME.json                   QSTrader JSONStatistics.to_file() output
  NAME_equity.csv             strategy equity curve (date,equity)
  NAME_benchmark_equity.csv   benchmark equity curve (date,equity)
  NAME_rebalances.csv         one row per asset per rebalance: signal time,
                              portfolio equity used for sizing, target weight,
                              sizing price, target/current/order quantity
  NAME_fills.csv              every executed transaction (time, asset,
                              quantity, price, commission, cash afterwards)
  NAME_benchmark_fills.csv    same for the benchmark
plus timings.json (wall seconds) for all backtests run.

Data: CSVs are read from $SLURM_SWEEP_DATA/qstrader_examples
(default: <repo>/../shared/data/qstrader_examples). They are never copied.

The recording of rebalances/fills wraps QSTrader objects with thin
pass-through callables; it does not change any computed value.
"""
import os
import time

# JSONStatistics converts naive datetimes to epoch ms with the *local*
# timezone (datetime.timestamp()), so the process must run in UTC.
os.environ['TZ'] = 'UTC'
time.tzset()

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import operator  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import qstrader  # noqa: E402,F401
from qstrader import settings  # noqa: E402
from qstrader.alpha_model.alpha_model import AlphaModel  # noqa: E402
from qstrader.alpha_model.fixed_signals import FixedSignalsAlphaModel  # noqa: E402
from qstrader.asset.equity import Equity  # noqa: E402
from qstrader.asset.universe.static import StaticUniverse  # noqa: E402
from qstrader.data.backtest_data_handler import BacktestDataHandler  # noqa: E402
from qstrader.data.daily_bar_csv import CSVDailyBarDataSource  # noqa: E402
from qstrader.signals.momentum import MomentumSignal  # noqa: E402
from qstrader.signals.signals_collection import SignalsCollection  # noqa: E402
from qstrader.statistics.json_statistics import JSONStatistics  # noqa: E402
from qstrader.trading.backtest import BacktestTradingSession  # noqa: E402

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(SCRIPT_DIR))
BACKTESTS = ('sixty_forty', 'momentum_taa')


def data_dir():
    base = os.environ.get('SLURM_SWEEP_DATA') or os.path.join(
        REPO_DIR, '..', 'shared', 'data'
    )
    return os.path.normpath(os.path.join(base, 'qstrader_examples'))


def utc(s):
    return pd.Timestamp(s, tz='UTC')


# ---------------------------------------------------------------------------
# Top-N momentum alpha model, identical in behaviour to the
# TopNMomentumAlphaModel of QSTrader's examples/momentum_taa.py
# ---------------------------------------------------------------------------
class TopNMomentumAlphaModel(AlphaModel):
    def __init__(self, signals, mom_lookback, mom_top_n, universe, data_handler):
        self.signals = signals
        self.mom_lookback = mom_lookback
        self.mom_top_n = mom_top_n
        self.universe = universe
        self.data_handler = data_handler

    def _highest_momentum_asset(self, dt):
        assets = self.signals['momentum'].assets
        all_momenta = {
            asset: self.signals['momentum'](asset, self.mom_lookback)
            for asset in assets
        }
        # sorted() is stable: ties keep the universe (insertion) order
        return [
            asset[0] for asset in sorted(
                all_momenta.items(), key=operator.itemgetter(1), reverse=True
            )
        ][:self.mom_top_n]

    def _generate_signals(self, dt, weights):
        for asset in self._highest_momentum_asset(dt):
            weights[asset] = 1.0 / self.mom_top_n
        return weights

    def __call__(self, dt):
        assets = self.universe.get_assets(dt)
        weights = {asset: 0.0 for asset in assets}
        if self.signals.warmup >= self.mom_lookback:
            weights = self._generate_signals(dt, weights)
        return weights


# ---------------------------------------------------------------------------
# Pass-through recorders (debugging output only)
# ---------------------------------------------------------------------------
class Recorder(object):
    def __init__(self, session):
        self.session = session
        self.rebalance_rows = []
        self.fill_rows = []
        self._last_equity = None
        pcm = session.qts.portfolio_construction_model
        broker = session.broker
        portfolio = broker.portfolios[session.portfolio_id]

        orig_sizer = pcm.order_sizer

        def sizer(dt, weights):
            self._last_equity = broker.get_portfolio_total_equity(
                session.portfolio_id
            )
            self._last_weights = dict(weights)
            self._last_current = {
                a: d['quantity']
                for a, d in broker.get_portfolio_as_dict(session.portfolio_id).items()
            }
            target = orig_sizer(dt, weights)
            self._last_target = {a: d['quantity'] for a, d in target.items()}
            return target

        pcm.order_sizer = sizer

        orig_pcm = pcm

        def pcm_wrapper(dt, stats=None):
            orders = orig_pcm(dt, stats=stats)
            order_qty = {o.asset: o.quantity for o in orders}
            assets = sorted(
                set(self._last_weights) | set(self._last_target) |
                set(self._last_current)
            )
            for a in assets:
                self.rebalance_rows.append({
                    'signal_dt': dt.isoformat(),
                    'equity_at_signal': self._last_equity,
                    'asset': a.replace('EQ:', ''),
                    'target_weight': self._last_weights.get(a, 0.0),
                    'sizing_price': session.data_handler.get_asset_latest_ask_price(dt, a),
                    'current_qty': self._last_current.get(a, 0),
                    'target_qty': self._last_target.get(a, 0),
                    'order_qty': order_qty.get(a, 0),
                })
            return orders

        session.qts.portfolio_construction_model = pcm_wrapper

        orig_transact = portfolio.transact_asset

        def transact(txn):
            orig_transact(txn)
            self.fill_rows.append({
                'fill_dt': txn.dt.isoformat(),
                'asset': txn.asset.replace('EQ:', ''),
                'quantity': txn.quantity,
                'price': txn.price,
                'commission': txn.commission,
                'cash_after': portfolio.cash,
            })

        portfolio.transact_asset = transact


def _fmt(v):
    """Plain, round-trippable text for numbers (numpy scalars included)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    return v


def write_csv(path, rows, fields):
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator='\n')
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(v) for k, v in r.items()})


def write_equity(path, session):
    with open(path, 'w', newline='') as f:
        f.write('date,equity\n')
        for dt, eq in session.equity_curve:
            f.write('%s,%r\n' % (dt.date().isoformat(), float(eq)))


REB_FIELDS = ['signal_dt', 'equity_at_signal', 'asset', 'target_weight',
              'sizing_price', 'current_qty', 'target_qty', 'order_qty']
FILL_FIELDS = ['fill_dt', 'asset', 'quantity', 'price', 'commission', 'cash_after']


# ---------------------------------------------------------------------------
# Backtest definitions (parameters as in QSTrader's examples)
# ---------------------------------------------------------------------------
def build_sixty_forty(csv_dir):
    start_dt = utc('2003-09-30 14:30:00')
    end_dt = utc('2020-12-31 23:59:00')
    symbols = ['SPY', 'AGG']
    universe = StaticUniverse(['EQ:%s' % s for s in symbols])
    data_source = CSVDailyBarDataSource(csv_dir, Equity, csv_symbols=symbols)
    data_handler = BacktestDataHandler(universe, data_sources=[data_source])
    strategy = BacktestTradingSession(
        start_dt, end_dt, universe,
        FixedSignalsAlphaModel({'EQ:SPY': 0.6, 'EQ:AGG': 0.4}),
        rebalance='end_of_month', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        data_handler=data_handler,
    )
    # Benchmark exactly as in examples/sixty_forty.py: same data handler,
    # same start date, 100% SPY bought once.
    bench_universe = StaticUniverse(['EQ:SPY'])
    benchmark = BacktestTradingSession(
        start_dt, end_dt, bench_universe,
        FixedSignalsAlphaModel({'EQ:SPY': 1.0}),
        rebalance='buy_and_hold', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        data_handler=data_handler,
    )
    return strategy, benchmark, '60/40 US Equities/Bonds', 'SPY Buy and Hold'


def build_momentum_taa(csv_dir):
    start_dt = utc('1998-12-22 14:30:00')
    burn_in_dt = utc('1999-12-22 14:30:00')
    end_dt = utc('2020-12-31 23:59:00')
    mom_lookback = 126
    mom_top_n = 3
    # Nine classic sector SPDRs; XLC deliberately excluded (static universe)
    symbols = ['XL%s' % s for s in 'BEFIKPUVY']
    universe = StaticUniverse(['EQ:%s' % s for s in symbols])
    data_source = CSVDailyBarDataSource(csv_dir, Equity, csv_symbols=symbols)
    data_handler = BacktestDataHandler(universe, data_sources=[data_source])
    momentum = MomentumSignal(start_dt, universe, lookbacks=[mom_lookback])
    signals = SignalsCollection({'momentum': momentum}, data_handler)
    alpha = TopNMomentumAlphaModel(signals, mom_lookback, mom_top_n, universe, data_handler)
    strategy = BacktestTradingSession(
        start_dt, end_dt, universe, alpha,
        signals=signals, rebalance='end_of_month', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        burn_in_dt=burn_in_dt, data_handler=data_handler,
    )
    # Benchmark as in examples/momentum_taa.py: SPY bought once at burn-in.
    bench_universe = StaticUniverse(['EQ:SPY'])
    bench_source = CSVDailyBarDataSource(csv_dir, Equity, csv_symbols=['SPY'])
    bench_handler = BacktestDataHandler(bench_universe, data_sources=[bench_source])
    benchmark = BacktestTradingSession(
        burn_in_dt, end_dt, bench_universe,
        FixedSignalsAlphaModel({'EQ:SPY': 1.0}),
        rebalance='buy_and_hold', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        data_handler=bench_handler,
    )
    return (strategy, benchmark, 'US Sector Momentum - Top 3 Sectors',
            'SPY Buy and Hold')


BUILDERS = {'sixty_forty': build_sixty_forty, 'momentum_taa': build_momentum_taa}


def run_one(name, csv_dir, outdir):
    t0 = time.perf_counter()
    strategy, benchmark, strat_name, bench_name = BUILDERS[name](csv_dir)
    t1 = time.perf_counter()
    rec = Recorder(strategy)
    bench_rec = Recorder(benchmark)
    strategy.run()
    t2 = time.perf_counter()
    benchmark.run()
    t3 = time.perf_counter()
    stats = JSONStatistics(
        equity_curve=strategy.get_equity_curve(),
        target_allocations=strategy.get_target_allocations(),
        strategy_id=name,
        strategy_name=strat_name,
        benchmark_curve=benchmark.get_equity_curve(),
        benchmark_id='spy_buy_and_hold',
        benchmark_name=bench_name,
        periods=252,
        output_filename=os.path.join(outdir, '%s.json' % name),
    )
    stats.to_file()
    t4 = time.perf_counter()

    write_equity(os.path.join(outdir, '%s_equity.csv' % name), strategy)
    write_equity(os.path.join(outdir, '%s_benchmark_equity.csv' % name), benchmark)
    write_csv(os.path.join(outdir, '%s_rebalances.csv' % name), rec.rebalance_rows, REB_FIELDS)
    write_csv(os.path.join(outdir, '%s_fills.csv' % name), rec.fill_rows, FILL_FIELDS)
    write_csv(os.path.join(outdir, '%s_benchmark_fills.csv' % name),
              bench_rec.fill_rows, FILL_FIELDS)

    s = stats.statistics['strategy']
    timing = {
        'load_data_and_setup_s': round(t1 - t0, 4),
        'strategy_run_s': round(t2 - t1, 4),
        'benchmark_run_s': round(t3 - t2, 4),
        'statistics_s': round(t4 - t3, 4),
        'total_s': round(t4 - t0, 4),
        'equity_points': len(strategy.equity_curve),
        'rebalance_events': len({r['signal_dt'] for r in rec.rebalance_rows}),
        'fills': len(rec.fill_rows),
    }
    print('[%s] setup %.2fs, strategy %.2fs, benchmark %.2fs, stats %.2fs, total %.2fs'
          % (name, timing['load_data_and_setup_s'], timing['strategy_run_s'],
             timing['benchmark_run_s'], timing['statistics_s'], timing['total_s']))
    print('[%s] final equity %.2f  sharpe %.6f  cagr %.6f  max_dd %.6f  (%d points, %d fills)'
          % (name, strategy.equity_curve[-1][1], s['sharpe'], s['cagr'],
             s['max_drawdown'], timing['equity_points'], timing['fills']))
    sys.stdout.flush()
    return timing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('outdir')
    ap.add_argument('--only', action='append', choices=BACKTESTS,
                    help='run only this backtest (repeatable)')
    ap.add_argument('--print-events', action='store_true',
                    help="keep QSTrader's (very verbose) event printing on")
    args = ap.parse_args()

    settings.set_print_events(args.print_events)
    csv_dir = data_dir()
    if not os.path.isdir(csv_dir):
        sys.exit('data directory not found: %s (set SLURM_SWEEP_DATA)' % csv_dir)
    # The examples read this variable; set it for anything that looks at it.
    os.environ['QSTRADER_CSV_DATA_DIR'] = csv_dir
    os.makedirs(args.outdir, exist_ok=True)

    from importlib.metadata import version
    timings = {
        'versions': {
            'python': platform.python_version(),
            'qstrader': version('qstrader'),
            'pandas': pd.__version__,
            'numpy': np.__version__,
        },
        'data_dir': csv_dir,
        'backtests': {},
    }
    for name in (args.only or BACKTESTS):
        timings['backtests'][name] = run_one(name, csv_dir, args.outdir)

    path = os.path.join(args.outdir, 'timings.json')
    if args.only and os.path.exists(path):
        # keep timings of backtests not re-run this time
        try:
            with open(path) as f:
                old = json.load(f)
            for k, v in old.get('backtests', {}).items():
                timings['backtests'].setdefault(k, v)
        except (OSError, ValueError):
            pass
    with open(path, 'w') as f:
        json.dump(timings, f, indent=2)
        f.write('\n')
    print('wrote %s' % os.path.abspath(args.outdir))


if __name__ == '__main__':
    main()
