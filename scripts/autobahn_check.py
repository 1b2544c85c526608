#!/usr/bin/env python3
"""Checks one run's Autobahn report (kosoku's index.json).

- The report holds exactly the cases of the expected results, less those
  left out with --exclude (kosoku's `-x` globs, e.g. '12.*'): an early
  updateReports or a runner killed early reports fewer and may still exit 0.
- Every case's behavior and behaviorClose is OK or INFORMATIONAL: no FAILED,
  NON-STRICT, UNIMPLEMENTED, UNCLEAN, WRONG CODE, ...
- Per-case behaviour matches the committed expected results (case id ->
  behavior, behaviorClose; durations ignored), so any change names the case.

Prints the per-group table (cases, OK, INFORMATIONAL, other) and exits 1 on
any problem. With --update, rewrites the expected file from the report
(after the same checks, so only a clean run can become the reference);
excluded cases keep their expected results.

    autobahn_check.py --role 'split server' --cases 517 --exclude '12.*' --exclude '13.*' \\
        INDEX.json EXPECTED.json
"""

import argparse
import json
import sys
from collections import Counter
from fnmatch import fnmatchcase

ACCEPTED = {"OK", "INFORMATIONAL"}
FIELDS = ("behavior", "behaviorClose")


def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))


def load_index(path):
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if len(index) != 1:
        raise SystemExit(f"{path}: expected one agent, found {sorted(index)}")
    (cases,) = index.values()
    return {
        case_id: {field: r[field] for field in FIELDS}
        for case_id, r in cases.items()
    }


def group_table(role, results):
    groups = {}
    for case_id, r in results.items():
        group = int(case_id.split(".")[0])
        counts = groups.setdefault(group, Counter())
        counts["cases"] += 1
        # A case counts as INFORMATIONAL when either verdict is, as OK when
        # both are OK, and as "other" otherwise.
        verdicts = {r["behavior"], r["behaviorClose"]}
        if not verdicts <= ACCEPTED:
            counts["other"] += 1
        elif "INFORMATIONAL" in verdicts:
            counts["INFORMATIONAL"] += 1
        else:
            counts["OK"] += 1
    lines = [f"{role}: group  cases  OK  INFORMATIONAL  other"]
    total = Counter()
    for group in sorted(groups):
        c = groups[group]
        total.update(c)
        lines.append(
            f"{role}: {group:>5}  {c['cases']:>5}  {c['OK']:>3}  {c['INFORMATIONAL']:>13}  {c['other']:>5}"
        )
    lines.append(
        f"{role}: total  {total['cases']:>5}  {total['OK']:>3}  {total['INFORMATIONAL']:>13}  {total['other']:>5}"
    )
    return "\n".join(lines)


def diff(expected, results):
    """One line per case whose verdicts differ from the expected ones."""
    out = []
    for case_id in sorted(set(expected) | set(results), key=case_key):
        want, got = expected.get(case_id), results.get(case_id)
        if want is None:
            out.append(f"case {case_id}: not in the expected results (got {got})")
        elif got is None:
            out.append(f"case {case_id}: missing from the report (expected {want})")
        else:
            for field in FIELDS:
                if want[field] != got[field]:
                    out.append(f"case {case_id}: {field} changed {want[field]} -> {got[field]}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, help="name used in messages")
    parser.add_argument(
        "--cases", type=int, required=True, help="case count of the expected results"
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB",
        help="cases left out of this run (kosoku -x), repeatable",
    )
    parser.add_argument("--update", action="store_true", help="rewrite the expected file")
    parser.add_argument("index")
    parser.add_argument("expected")
    args = parser.parse_args()

    problems = []
    try:
        results = load_index(args.index)
    except (OSError, ValueError) as e:
        print(f"{args.role}: cannot read the report: {e}")
        return 1

    print(group_table(args.role, results))

    try:
        with open(args.expected, encoding="utf-8") as f:
            all_expected = json.load(f)
    except (OSError, ValueError) as e:
        all_expected = None
        problems.append(f"cannot read the expected results {args.expected}: {e}")

    def excluded(case_id):
        return any(fnmatchcase(case_id, pattern) for pattern in args.exclude)

    if all_expected is not None:
        if len(all_expected) != args.cases:
            problems.append(
                f"the expected results hold {len(all_expected)} cases, expected {args.cases}"
            )
        expected = {k: v for k, v in all_expected.items() if not excluded(k)}
        if len(results) != len(expected):
            problems.append(
                f"the report holds {len(results)} cases, expected {len(expected)}"
            )
    for case_id in sorted(results, key=case_key):
        r = results[case_id]
        for field in FIELDS:
            if r[field] not in ACCEPTED:
                problems.append(f"case {case_id}: {field} is {r[field]}")

    if args.update:
        if problems:
            problems.append("not updating the expected results from a run with problems")
        else:
            # The excluded cases keep their expected results.
            merged = dict(all_expected or {})
            merged.update(results)
            # One case per line, in case order: diffs name the case.
            lines = [
                f"  {json.dumps(k)}: {json.dumps(merged[k])}"
                for k in sorted(merged, key=case_key)
            ]
            with open(args.expected, "w", encoding="utf-8") as f:
                f.write("{\n" + ",\n".join(lines) + "\n}\n")
            print(f"{args.role}: wrote {args.expected}")
    elif all_expected is not None:
        problems.extend(diff(expected, results))

    for problem in problems:
        print(f"{args.role}: {problem}")
    if problems:
        print(f"{args.role}: FAILED ({len(problems)} problems)")
        return 1
    print(f"{args.role}: {len(results)} cases, all OK or INFORMATIONAL, as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
