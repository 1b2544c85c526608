#!/usr/bin/env python3
"""Print the side-by-side criterion results (benches compare_receive,
compare_send, compare_handshake) as a Markdown table: one row per group,
one column per implementation, the median as throughput (million messages
per second for element counts, GB/s = 10^9 bytes per second for bytes,
else time per iteration), and wsproto's ratio to tungstenite.

Usage: scripts/compare_table.py [GROUP_PREFIX ...] [--root target/criterion]
"""
import json
import pathlib
import sys

args = sys.argv[1:]
root = pathlib.Path("target/criterion")
if "--root" in args:
    i = args.index("--root")
    root = pathlib.Path(args[i + 1])
    del args[i : i + 2]
prefixes = args or ["receive_", "send_", "server handshake"]

groups, columns = {}, []
for bench in sorted(root.glob("**/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    group = meta["group_id"]
    if not any(group.startswith(p) for p in prefixes):
        continue
    name = meta.get("function_id") or meta.get("value_str")
    median = json.loads((bench.parent / "estimates.json").read_text())["median"]["point_estimate"]
    throughput = meta.get("throughput") or {}
    if "Bytes" in throughput:
        rate, text = throughput["Bytes"] / median, "{:.1f} GB/s"
    elif "Elements" in throughput and throughput["Elements"] > 1:
        rate, text = throughput["Elements"] / median * 1e3, "{:.1f} M/s"
    else:
        rate, text = 1e3 / median, "{:.2f} µs"
    shown = text.format(median / 1e3 if "µs" in text else rate)
    groups.setdefault(group, {})[name] = (rate, shown)
    if name not in columns:
        columns.append(name)

order = ["wsproto", "wsproto_read", "wsproto_core", "wsproto_blocking", "tungstenite", "fastwebsockets"]
columns.sort(key=lambda c: order.index(c) if c in order else len(order))
print("| benchmark | " + " | ".join(columns) + " | wsproto / tungstenite |")
print("|---|" + "---:|" * (len(columns) + 1))
for group in sorted(groups):
    cells = groups[group]
    ours = cells.get("wsproto") or cells.get("wsproto_core")
    theirs = cells.get("tungstenite")
    ratio = f"{ours[0] / theirs[0]:.2f}×" if ours and theirs else ""
    row = [cells[c][1] if c in cells else "" for c in columns]
    print(f"| {group} | " + " | ".join(row) + f" | {ratio} |")
