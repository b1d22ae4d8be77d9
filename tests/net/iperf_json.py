#!/usr/bin/python3
"""iperf_json.py FILE EXPR... — checks on an iperf3 --json report.

Each EXPR is a Python expression over `j` (the parsed report); the first
one that is false is printed and the exit status is 1. With --get EXPR
the value of EXPR is printed instead (the bench reads figures this way). A report with an "error" key anywhere (as
iperf3 writes when one of its calls failed, e.g. getsockopt(TCP_INFO))
fails before any EXPR. Used by tests/net/t_preload_iperf3.sh and the bench.
"""
import json
import sys


def errors(node):
    """Every "error" value in the report, at any depth."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "error":
                out.append(v)
            out.extend(errors(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(errors(v))
    return out


def main():
    path = sys.argv[1]
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{path}: not an iperf3 JSON report: {e}")
        return 1
    errs = errors(j)
    if errs:
        print(f"{path}: iperf3 reported errors: {errs}")
        return 1
    env = {"j": j}
    if sys.argv[2:3] == ["--get"]:
        print(eval(sys.argv[3], env))  # noqa: S307
        return 0
    for expr in sys.argv[2:]:
        try:
            ok = eval(expr, env)  # noqa: S307 — test expressions, written by us
        except (KeyError, IndexError, TypeError) as e:
            print(f"{path}: {expr}: missing field {e!r}")
            return 1
        if not ok:
            print(f"{path}: false: {expr}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
