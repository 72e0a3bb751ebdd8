#!/usr/bin/env python3
"""Compare two QSTrader JSONStatistics files (reference vs ours).

    compare.py QSTRADER_JSON OURS_JSON [--equity-tol 0.001] [--stat-tol 0.005]

Checks, for the "strategy" section (and also "benchmark" with --benchmark):
  * equity_curve: the sets of dates must be equal (dates missing on either
    side are listed), and on every common date
        |ours - ref| / |ref| <= equity-tol
  * sharpe, cagr, max_drawdown: |ours - ref| <= stat-tol (absolute)
Printed for information only (never fail): sortino, annualised_vol,
max_drawdown_duration, mean_returns, stdev_returns, final equity.

Exit status: 0 if everything is within tolerance, 1 otherwise, 2 on
unreadable input. Standard library only (runs without the venv).
"""
import argparse
import datetime
import json
import math
import sys

CHECKED_STATS = ('sharpe', 'cagr', 'max_drawdown')
INFO_STATS = ('sortino', 'annualised_vol', 'max_drawdown_duration',
              'mean_returns', 'stdev_returns')


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print('error: cannot read %s: %s' % (path, e), file=sys.stderr)
        sys.exit(2)


def ms_to_date(ms):
    return (datetime.datetime(1970, 1, 1) +
            datetime.timedelta(milliseconds=ms)).strftime('%Y-%m-%d')


def curve(section, path, name):
    try:
        pts = section['equity_curve']
    except (KeyError, TypeError):
        print('error: %s has no %s.equity_curve' % (path, name), file=sys.stderr)
        sys.exit(2)
    out = {}
    for ts, val in pts:
        out[int(ts)] = float(val)
    return out


def fnum(x, width=14):
    if x is None:
        return 'n/a'.rjust(width)
    if isinstance(x, float) and math.isnan(x):
        return 'nan'.rjust(width)
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x).rjust(width)
    return ('%.6f' % x).rjust(width) if abs(x) < 1e6 else ('%.2f' % x).rjust(width)


def as_num(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    return None


def compare_section(name, ref, ours, ref_path, ours_path, args):
    ok = True
    print('=== %s ===' % name)
    rc = curve(ref, ref_path, name)
    oc = curve(ours, ours_path, name)
    only_ref = sorted(set(rc) - set(oc))
    only_ours = sorted(set(oc) - set(rc))
    common = sorted(set(rc) & set(oc))

    print('equity curve: %d dates in reference, %d in ours, %d common'
          % (len(rc), len(oc), len(common)))
    for label, lst in (('missing in ours', only_ref), ('missing in reference', only_ours)):
        if lst:
            ok = False
            shown = ', '.join(ms_to_date(t) for t in lst[:args.worst])
            more = ' ... (+%d more)' % (len(lst) - args.worst) if len(lst) > args.worst else ''
            print('  FAIL %d dates %s: %s%s' % (len(lst), label, shown, more))

    diffs = []
    for t in common:
        r, o = rc[t], oc[t]
        if r == o:
            rel = 0.0
        elif r == 0.0 or math.isnan(r) or math.isnan(o):
            rel = math.inf
        else:
            rel = abs(o - r) / abs(r)
        diffs.append((rel, t, r, o))
    bad = [d for d in diffs if not d[0] <= args.equity_tol]
    worst = sorted(diffs, key=lambda d: -d[0])[:args.worst]
    max_rel = worst[0][0] if worst else 0.0
    mean_rel = (sum(d[0] for d in diffs if math.isfinite(d[0])) / len(diffs)) if diffs else 0.0
    status = 'ok  ' if not bad else 'FAIL'
    if bad:
        ok = False
    print('  %s relative difference: max %.3e, mean %.3e, %d of %d dates above tol %.3e'
          % (status, max_rel, mean_rel, len(bad), len(common), args.equity_tol))
    if bad or args.verbose:
        first_bad = min(bad, key=lambda d: d[1]) if bad else None
        if first_bad:
            print('  first date above tol: %s (ref %.6f, ours %.6f, rel %.3e)'
                  % (ms_to_date(first_bad[1]), first_bad[2], first_bad[3], first_bad[0]))
        print('  worst dates:')
        print('    %-10s %18s %18s %12s' % ('date', 'reference', 'ours', 'rel diff'))
        for rel, t, r, o in worst:
            print('    %-10s %18.6f %18.6f %12.3e' % (ms_to_date(t), r, o, rel))
    if common:
        last = common[-1]
        print('  final equity on %s: reference %.2f, ours %.2f'
              % (ms_to_date(last), rc[last], oc[last]))

    print()
    print('  %-22s %14s %14s %14s %10s  %s' % ('statistic', 'reference', 'ours',
                                                'abs diff', 'tol', 'status'))
    for key in CHECKED_STATS + INFO_STATS:
        r = as_num(ref.get(key))
        o = as_num(ours.get(key))
        checked = key in CHECKED_STATS
        if r is None or o is None:
            diff = None
            st = 'FAIL (missing)' if checked else 'info (missing)'
            if checked:
                ok = False
        else:
            diff = abs(o - r) if not (math.isnan(o) and math.isnan(r)) else 0.0
            if checked:
                if diff <= args.stat_tol:
                    st = 'ok'
                else:
                    st = 'FAIL'
                    ok = False
            else:
                st = 'info'
        tol = ('%.4g' % args.stat_tol) if checked else '-'
        print('  %-22s %s %s %s %10s  %s' % (key, fnum(r), fnum(o), fnum(diff), tol, st))
    print()
    return ok


def main():
    ap = argparse.ArgumentParser(
        description='Compare two QSTrader JSONStatistics files.')
    ap.add_argument('qstrader_json', help='reference file written by QSTrader')
    ap.add_argument('ours_json', help='file to check (same JSON layout)')
    ap.add_argument('--equity-tol', type=float, default=0.001,
                    help='max relative equity difference per date (default 0.001)')
    ap.add_argument('--stat-tol', type=float, default=0.005,
                    help='max absolute difference of sharpe/cagr/max_drawdown '
                         '(default 0.005)')
    ap.add_argument('--benchmark', action='store_true',
                    help='also compare the "benchmark" sections')
    ap.add_argument('--worst', type=int, default=10,
                    help='how many worst / missing dates to print (default 10)')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='print the worst dates even when within tolerance')
    args = ap.parse_args()

    ref = load(args.qstrader_json)
    ours = load(args.ours_json)
    print('reference: %s' % args.qstrader_json)
    print('ours:      %s' % args.ours_json)
    print('tolerances: equity relative %.3g, statistics absolute %.3g'
          % (args.equity_tol, args.stat_tol))
    print()

    sections = ['strategy'] + (['benchmark'] if args.benchmark else [])
    ok = True
    for name in sections:
        if name not in ref or name not in ours:
            print('FAIL: section "%s" missing in %s' % (
                name, args.qstrader_json if name not in ref else args.ours_json))
            ok = False
            continue
        ok = compare_section(name, ref[name], ours[name],
                             args.qstrader_json, args.ours_json, args) and ok

    print('RESULT: %s' % ('PASS' if ok else 'FAIL'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
