#!/usr/bin/env python3
"""QSTrader 0.3.0's sixty_forty backtest, as one combination of a slurm-sweep sweep.

A fixed-weight portfolio of SPY and AGG, rebalanced at each month's end, from
2003-09-30 to 2020-12-31, with SPY buy and hold as the benchmark: QSTrader's
own 60/40 example, written against its public API. Two things differ, and
only these:

  * the SPY weight comes from the environment the sweep's worker sets,
    SWEEP_PARAM_w_SPY (default 0.6 when it is unset), and AGG gets 1 - SPY;
  * the JSONStatistics file is written where the worker says: the first
    argument, else $SWEEP_RESULT (else sixty_forty.json here).

Prices: SPY.csv and AGG.csv (Yahoo's daily format) in
$SLURM_SWEEP_DATA/qstrader_examples, the files the sweep's spec names, else in
$QSTRADER_CSV_DATA_DIR (the variable QSTrader's own examples read).

    SWEEP_PARAM_w_SPY=0.7 SLURM_SWEEP_DATA=/sharedfs/data \\
        /sharedfs/venvs/qstrader/bin/python sixty_forty.py /tmp/w07.json
"""
import os
import sys
import time

# JSONStatistics turns the equity curve's dates into epoch milliseconds in the
# process's local time zone, so the process runs in UTC (before pandas loads).
os.environ['TZ'] = 'UTC'
time.tzset()

import pandas as pd  # noqa: E402

from qstrader import settings  # noqa: E402
from qstrader.alpha_model.fixed_signals import FixedSignalsAlphaModel  # noqa: E402
from qstrader.asset.equity import Equity  # noqa: E402
from qstrader.asset.universe.static import StaticUniverse  # noqa: E402
from qstrader.data.backtest_data_handler import BacktestDataHandler  # noqa: E402
from qstrader.data.daily_bar_csv import CSVDailyBarDataSource  # noqa: E402
from qstrader.statistics.json_statistics import JSONStatistics  # noqa: E402
from qstrader.trading.backtest import BacktestTradingSession  # noqa: E402


def spy_weight():
    text = os.environ.get('SWEEP_PARAM_w_SPY', '0.6')
    try:
        w = float(text)
    except ValueError:
        sys.exit('SWEEP_PARAM_w_SPY=%r is not a number' % text)
    if not 0.0 <= w <= 1.0:
        sys.exit('SWEEP_PARAM_w_SPY=%r is outside 0..1' % text)
    return w


def result_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get('SWEEP_RESULT') or 'sixty_forty.json'


def csv_dir():
    if os.environ.get('SLURM_SWEEP_DATA'):
        return os.path.join(os.environ['SLURM_SWEEP_DATA'], 'qstrader_examples')
    if os.environ.get('QSTRADER_CSV_DATA_DIR'):
        return os.environ['QSTRADER_CSV_DATA_DIR']
    sys.exit('set SLURM_SWEEP_DATA (prices in $SLURM_SWEEP_DATA/qstrader_examples) '
             'or QSTRADER_CSV_DATA_DIR')


def main():
    w_spy = spy_weight()
    weights = {'EQ:SPY': w_spy, 'EQ:AGG': 1.0 - w_spy}
    out = result_path()
    settings.set_print_events(False)

    start_dt = pd.Timestamp('2003-09-30 14:30:00', tz='UTC')
    end_dt = pd.Timestamp('2020-12-31 23:59:00', tz='UTC')
    symbols = ['SPY', 'AGG']
    universe = StaticUniverse(['EQ:%s' % s for s in symbols])
    data_source = CSVDailyBarDataSource(csv_dir(), Equity, csv_symbols=symbols)
    data_handler = BacktestDataHandler(universe, data_sources=[data_source])

    strategy = BacktestTradingSession(
        start_dt, end_dt, universe,
        FixedSignalsAlphaModel(weights),
        rebalance='end_of_month', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        data_handler=data_handler,
    )
    strategy.run()

    # The benchmark: SPY bought once and held, on the same data.
    bench_universe = StaticUniverse(['EQ:SPY'])
    benchmark = BacktestTradingSession(
        start_dt, end_dt, bench_universe,
        FixedSignalsAlphaModel({'EQ:SPY': 1.0}),
        rebalance='buy_and_hold', long_only=True,
        cash_buffer_percentage=0.01, initial_cash=1e6,
        data_handler=data_handler,
    )
    benchmark.run()

    stats = JSONStatistics(
        equity_curve=strategy.get_equity_curve(),
        target_allocations=strategy.get_target_allocations(),
        strategy_id='sixty_forty',
        strategy_name='SPY %.2f / AGG %.2f' % (w_spy, 1.0 - w_spy),
        benchmark_curve=benchmark.get_equity_curve(),
        benchmark_id='spy_buy_and_hold',
        benchmark_name='SPY Buy and Hold',
        periods=252,
        output_filename=out,
    )
    stats.to_file()
    s = stats.statistics['strategy']
    print('SPY %.2f AGG %.2f: sharpe %.6f cagr %.6f max_drawdown %.6f -> %s'
          % (w_spy, 1.0 - w_spy, s['sharpe'], s['cagr'], s['max_drawdown'], out))


if __name__ == '__main__':
    main()
