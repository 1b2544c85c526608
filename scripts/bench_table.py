#!/usr/bin/env python3
"""Print criterion medians as a Markdown table: one row per benchmark input,
one column per implementation, throughput in GB/s (10^9 bytes per second)
when the benchmark declares bytes, nanoseconds per element when it declares
elements, else nanoseconds per iteration.

Usage: scripts/bench_table.py GROUP_PREFIX [target/criterion]
"""
import json
import pathlib
import sys

prefix = sys.argv[1]
root = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "target/criterion")
rows, columns = {}, []
for bench in sorted(root.glob("**/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    if not meta["group_id"].startswith(prefix):
        continue
    estimates = json.loads((bench.parent / "estimates.json").read_text())
    median_ns = estimates["median"]["point_estimate"]
    throughput = meta.get("throughput") or {}
    if "Bytes" in throughput:
        value = f'{throughput["Bytes"] / median_ns:.1f}'
    elif "Elements" in throughput:
        value = f'{median_ns / throughput["Elements"]:.2f} ns'
    else:
        value = f"{median_ns:.2f} ns"
    row = f'{meta["group_id"]} {meta.get("value_str") or ""}'.strip()
    column = meta["function_id"]
    if column not in columns:
        columns.append(column)
    rows.setdefault(row, {})[column] = value


def size_key(row):
    units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}
    group, _, size = row.rpartition(" ")
    for unit in ("KiB", "MiB", "B"):
        if size.endswith(unit) and size[: -len(unit)].isdigit():
            return (group, int(size[: -len(unit)]) * units[unit])
    return (row, 0)


print("| benchmark | " + " | ".join(columns) + " |")
print("|---" * (len(columns) + 1) + "|")
for row in sorted(rows, key=size_key):
    print(f"| {row} | " + " | ".join(rows[row].get(c, "") for c in columns) + " |")
