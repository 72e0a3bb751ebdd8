#!/usr/bin/env python3
"""Executable specification of the two QSTrader 0.3.0 reference backtests.

A small, standard-library-only re-implementation of exactly the parts of
QSTrader 0.3.0 that sixty_forty and momentum_taa use, written from the
rules in SEMANTICS.md. It exists to prove that SEMANTICS.md is complete:
its output matches QSTrader's own JSON (see README.md, "Checking the spec").
It is a reading aid for the Rust port, not a tool the project depends on.

    mini_qstrader.py OUTDIR [--only sixty_forty|momentum_taa]

Writes OUTDIR/NAME.json in the JSONStatistics layout.
"""
import argparse
import bisect
import csv
import datetime as dt
import json
import math
import os
import sys

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(SCRIPT_DIR))
OPEN, CLOSE = dt.time(14, 30), dt.time(21, 0)
EPOCH = dt.datetime(1970, 1, 1)


def data_dir():
    base = os.environ.get('SLURM_SWEEP_DATA') or os.path.join(REPO_DIR, '..', 'shared', 'data')
    return os.path.normpath(os.path.join(base, 'qstrader_examples'))


# --------------------------------------------------------------------- data
class PriceSeries(object):
    """Adjusted open/close prices as one time-sorted sequence (SEMANTICS 2)."""

    def __init__(self, path):
        self.times, self.prices = [], []
        with open(path, newline='') as f:
            rows = sorted(csv.DictReader(f), key=lambda r: r['Date'])
        for r in rows:
            d = dt.date.fromisoformat(r['Date'])
            o, c, ac = float(r['Open']), float(r['Close']), float(r['Adj Close'])
            adj_open = (ac / c) * o
            self.times.append(dt.datetime.combine(d, OPEN))
            self.prices.append(adj_open)
            self.times.append(dt.datetime.combine(d, CLOSE))
            self.prices.append(ac)

    def price(self, t):
        """Last price at or before t. Before the first bar QSTrader returns
        the LAST price of the file (get_indexer -> -1 -> iloc[-1])."""
        i = bisect.bisect_right(self.times, t) - 1
        return self.prices[i]  # i == -1 -> last element, as in QSTrader


# ------------------------------------------------------------------ calendar
def business_days(start, end):
    d = start
    while d <= end:
        if d.weekday() < 5:
            yield d
        d += dt.timedelta(days=1)


def month_end_business_days(start, end):
    """pd.date_range(start, end, freq='BME') restricted to dates."""
    out = []
    for d in business_days(start, end):
        nxt = d + dt.timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += dt.timedelta(days=1)
        if nxt.month != d.month:
            out.append(d)
    return out


# ------------------------------------------------------------------- broker
class Broker(object):
    def __init__(self, prices, cash):
        self.prices = prices
        self.cash = cash
        self.pos = {}      # asset -> [qty, current_price]; insertion-ordered
        self.queue = []    # pending orders [(asset, qty)]
        self.fills = []

    def equity(self):
        mv = 0
        for q, p in self.pos.values():
            mv += p * q
        return mv + self.cash

    def _execute(self, t, asset, qty):
        price = self.prices[asset].price(t)
        self.cash -= price * qty
        if asset in self.pos:
            self.pos[asset][0] += qty
            self.pos[asset][1] = price
            if self.pos[asset][0] == 0:
                del self.pos[asset]
        else:
            self.pos[asset] = [qty, price]
        self.fills.append((t, asset, qty, price))

    def update(self, t):
        for asset, p in self.pos.items():
            p[1] = self.prices[asset].price(t)
        if t.weekday() < 5 and OPEN <= t.time() < CLOSE:
            orders, self.queue = self.queue, []
            # sorted by direction: sells (-1) before buys (+1), stable
            orders.sort(key=lambda o: 1 if o[1] > 0 else -1)
            for asset, qty in orders:
                self._execute(t, asset, qty)


# ----------------------------------------------------------------- backtest
def rebalance(t, broker, universe, weights, cash_buffer):
    """PortfolioConstructionModel + DollarWeightedCashBufferedOrderSizer."""
    full = {a: 0.0 for a in sorted(set(broker.pos) | set(universe))}
    full.update(weights)
    equity = broker.equity() * (1.0 - cash_buffer)
    total = sum(full.values())
    if not math.isclose(total, 0.0, rel_tol=1e-05, abs_tol=1e-08):  # np.isclose
        full_n = {a: w / total for a, w in full.items()}
    else:
        full_n = full
    target = {}
    for a, w in sorted(full_n.items()):
        target[a] = int(math.floor(equity * w / broker.prices[a].price(t)))
    orders = []
    for a in sorted(target):
        q = target[a] - (broker.pos[a][0] if a in broker.pos else 0)
        if q != 0:
            orders.append((a, q))
    return full, orders


def run(prices, universe, alpha, start, end, schedule, cash_buffer=0.01,
        initial_cash=1e6, burn_in=None, on_close=None):
    broker = Broker(prices, initial_cash)
    curve, allocs = [], []
    schedule = set(schedule)
    for d in business_days(start.date(), end.date()):
        for t in (dt.datetime.combine(d, OPEN), dt.datetime.combine(d, CLOSE)):
            broker.update(t)
            if on_close is not None and t.time() == CLOSE:
                on_close(t)
            if t in schedule and (burn_in is None or t >= burn_in):
                full, orders = rebalance(t, broker, universe, alpha(t), cash_buffer)
                allocs.append((d, full))
                for o in orders:
                    broker.queue.append(o)
                    broker.update(t)      # executes at once if market open
            if t.time() == CLOSE and (burn_in is None or t >= burn_in):
                curve.append((d, broker.equity()))
    return curve, allocs


def sixty_forty(csv_dir):
    prices = {s: PriceSeries(os.path.join(csv_dir, s + '.csv')) for s in ('SPY', 'AGG')}
    start, end = dt.datetime(2003, 9, 30, 14, 30), dt.datetime(2020, 12, 31, 23, 59)
    sched = [dt.datetime.combine(d, CLOSE) for d in month_end_business_days(start.date(), end.date())]
    curve, allocs = run(prices, ['SPY', 'AGG'], lambda t: {'SPY': 0.6, 'AGG': 0.4},
                        start, end, sched)
    bench, _ = run(prices, ['SPY'], lambda t: {'SPY': 1.0}, start, end, [start])
    return curve, allocs, bench, None


def momentum_taa(csv_dir, lookback=126, top_n=3):
    syms = ['XL%s' % s for s in 'BEFIKPUVY']
    prices = {s: PriceSeries(os.path.join(csv_dir, s + '.csv')) for s in syms}
    start = dt.datetime(1998, 12, 22, 14, 30)
    burn_in = dt.datetime(1999, 12, 22, 14, 30)
    end = dt.datetime(2020, 12, 31, 23, 59)
    buf = {s: [] for s in syms}
    warmup = [0]

    def on_close(t):
        for s in syms:
            buf[s].append(prices[s].price(t))
            del buf[s][:-(lookback + 1)]
        warmup[0] += 1

    def momentum(s):
        p = buf[s]
        if len(p) < 2:
            return 0.0
        acc = 1.0
        for i in range(1, len(p)):
            acc *= 1.0 + (p[i] / p[i - 1] - 1.0)
        return acc - 1.0

    def alpha(t):
        w = {s: 0.0 for s in syms}
        if warmup[0] >= lookback:
            ranked = sorted(((s, momentum(s)) for s in syms), key=lambda x: x[1], reverse=True)
            for s, _ in ranked[:top_n]:
                w[s] = 1.0 / top_n
        return w

    sched = [dt.datetime.combine(d, CLOSE) for d in month_end_business_days(start.date(), end.date())]
    curve, allocs = run(prices, syms, alpha, start, end, sched, burn_in=burn_in, on_close=on_close)
    spy = {'SPY': PriceSeries(os.path.join(csv_dir, 'SPY.csv'))}
    bench, _ = run(spy, ['SPY'], lambda t: {'SPY': 1.0}, burn_in, end, [burn_in])
    return curve, allocs, bench, burn_in.date()


# --------------------------------------------------------------- statistics
def ms(d):
    return int((dt.datetime.combine(d, dt.time()) - EPOCH).total_seconds() * 1000)


def percentile(xs, q):
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def mean(xs):
    return sum(xs) / len(xs)


def pstd(xs):
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def aggregate(dates, rets, key):
    groups = {}
    for d, r in zip(dates, rets):
        groups.setdefault(key(d), []).append(r)
    out = []
    for k in sorted(groups):
        acc = 0.0
        for r in groups[k]:
            acc += math.log(1 + r)
        out.append((k, math.exp(acc) - 1))
    return out


def statistics(curve, periods=252):
    dates = [d for d, _ in curve]
    eq = [e for _, e in curve]
    rets = [0.0] + [eq[i] / eq[i - 1] - 1 for i in range(1, len(eq))]
    cum, acc = [], 0.0
    for r in rets:
        acc += math.log(1 + r)
        cum.append(math.exp(acc))
    hwm, dd = 0.0, [0.0]
    for t in range(1, len(cum)):
        hwm = max(hwm, cum[t])
        dd.append((hwm - cum[t]) / hwm)
    dur = run_len = 0
    for x in dd:
        run_len = run_len + 1 if x != 0 else 0
        dur = max(dur, run_len)
    monthly = aggregate(dates, rets, lambda d: (d.year, d.month))
    yearly = aggregate(dates, rets, lambda d: d.year)
    years = sorted({k[0] for k, _ in monthly})
    mdict = dict(monthly)
    monthly_hc = [[m, yi, 100.0 * mdict[(y, m + 1)]]
                  for m in range(12) for yi, y in enumerate(years) if (y, m + 1) in mdict]

    def quant(xs):
        return {'min': min(xs), 'lq': percentile(xs, 25), 'med': percentile(xs, 50),
                'uq': percentile(xs, 75), 'max': max(xs)}
    rq = {'daily': quant(rets), 'monthly': quant([r for _, r in monthly]),
          'yearly': quant([r for _, r in yearly])}
    neg = [r for r in rets if r < 0]
    return {
        'equity_curve': [[ms(d), e] for d, e in curve],
        'returns': [[ms(d), r] for d, r in zip(dates, rets)],
        'cum_returns': [[ms(d), c] for d, c in zip(dates, cum)],
        'monthly_agg_returns': [[list(k), r] for k, r in monthly],
        'monthly_agg_returns_hc': monthly_hc,
        'yearly_agg_returns': [[k, r] for k, r in yearly],
        'yearly_agg_returns_hc': [r * 100.0 for _, r in yearly],
        'returns_quantiles': rq,
        'returns_quantiles_hc': [[rq[p][s] * 100.0 for s in ('min', 'lq', 'med', 'uq', 'max')]
                                 for p in ('daily', 'monthly', 'yearly')],
        'drawdowns': [[ms(d), x] for d, x in zip(dates, dd)],
        'max_drawdown': max(dd),
        'max_drawdown_duration': dur,
        'mean_returns': mean(rets),
        'stdev_returns': pstd(rets),
        'cagr': cum[-1] ** (1.0 / (len(cum) / float(periods))) - 1.0,
        'annualised_vol': pstd(rets) * math.sqrt(periods),
        'sharpe': math.sqrt(periods) * mean(rets) / pstd(rets),
        'sortino': math.sqrt(periods) * mean(rets) / pstd(neg),
    }


def target_allocations(curve, allocs, burn_in):
    assets = []
    for _, w in allocs:
        for a in w:
            if a not in assets:
                assets.append(a)
    out = []
    for a in assets:
        data, i, cur = [], 0, None
        for d, _ in curve:
            while i < len(allocs) and allocs[i][0] <= d:
                cur = allocs[i][1].get(a, math.nan)
                i += 1
            v = cur if cur is not None and not math.isnan(cur) else 0.0
            if burn_in is None or d >= burn_in:
                data.append([ms(d), v])
        out.append({'name': a, 'data': data})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('outdir')
    ap.add_argument('--only', action='append', choices=('sixty_forty', 'momentum_taa'))
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    csv_dir = data_dir()
    for name in args.only or ('sixty_forty', 'momentum_taa'):
        curve, allocs, bench, burn_in = {'sixty_forty': sixty_forty,
                                         'momentum_taa': momentum_taa}[name](csv_dir)
        s = statistics(curve)
        s['target_allocations'] = target_allocations(curve, allocs, burn_in)
        out = {'strategy': s, 'benchmark': statistics(bench)}
        path = os.path.join(args.outdir, name + '.json')
        with open(path, 'w') as f:
            json.dump(out, f)
        print('%s: final equity %.2f sharpe %.6f cagr %.6f max_dd %.6f -> %s'
              % (name, curve[-1][1], s['sharpe'], s['cagr'], s['max_drawdown'], path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
