"""Reads a sweep's report/results.parquet with pyarrow (an independent reader) and checks
that it holds exactly what report/results.csv holds: the same columns in the same order,
the same rows in the same order, every cell equal (numbers exactly or to 1e-12 relative,
an empty CSV field = a Parquet null), with the column types the design names.

usage: python compare.py <report dir>; prints one line `OK <rows> rows, <columns> columns`
and exits 0, or prints every difference (at most 20) and exits 1."""

import csv
import math
import sys

import pyarrow as pa
import pyarrow.parquet as pq

report = sys.argv[1]
table = pq.read_table(f"{report}/results.parquet")
with open(f"{report}/results.csv", newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
problems = []

if table.column_names != header:
    problems.append(f"columns differ: parquet {table.column_names} csv {header}")
if table.num_rows != len(body):
    problems.append(f"rows differ: parquet {table.num_rows} csv {len(body)}")

types = {name: table.schema.field(name).type for name in table.column_names}
for name, want in [("combo", pa.int64()), ("task", pa.int64()), ("status", pa.string()),
                   ("sharpe", pa.float64())]:
    if name in types and types[name] != want:
        problems.append(f"column {name}: type {types[name]}, expected {want}")


def same(text, value, ty):
    if text == "":
        return value is None
    if value is None:
        return False
    if pa.types.is_integer(ty):
        return int(text) == value
    if pa.types.is_floating(ty):
        x = float(text)
        return x == value or math.isclose(x, value, rel_tol=1e-12, abs_tol=0.0)
    if pa.types.is_boolean(ty):
        return text == ("true" if value else "false")
    return text == value


columns = [table.column(k).to_pylist() for k in range(table.num_columns)]
checked = 0
for r, line in enumerate(body):
    if len(line) != len(header):
        problems.append(f"csv row {r + 1}: {len(line)} fields, header has {len(header)}")
        continue
    for k, text in enumerate(line):
        if k >= len(columns) or r >= len(columns[k]):
            continue
        value = columns[k][r]
        checked += 1
        if not same(text, value, types[header[k]]):
            problems.append(f"row {r + 1} column {header[k]}: csv {text!r} parquet {value!r}")

if problems:
    for p in problems[:20]:
        print(p)
    print(f"{len(problems)} difference(s)")
    sys.exit(1)
print(f"OK {table.num_rows} rows, {table.num_columns} columns, {checked} cells, "
      f"types {', '.join(f'{n}:{types[n]}' for n in header[:4])}")
