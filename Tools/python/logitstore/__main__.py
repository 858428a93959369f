"""`python -m logitstore verify STORE` (exit 1 on any damage) and `python -m logitstore info STORE`."""
import argparse
import json
import sys

from . import StoreError, open as open_store


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m logitstore", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("verify", "info"):
        sub.add_parser(name).add_argument("store")
    args = ap.parse_args(argv)
    try:
        with open_store(args.store) as st:
            if args.cmd == "info":
                print(json.dumps({"vocab_size": st.vocab_size, "sequences": st.num_sequences,
                                  "positions": st.num_positions, "entries": st.num_entries,
                                  "truncation": st.truncation, "teacher": st.teacher,
                                  "target_logprobs": st.has_target_logprobs, "shards": len(st.shards)}, indent=2))
                return 0
            report = st.verify()
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for p in report.problems:
        print(p)
    print(f"{'ok' if report.ok else 'DAMAGED'}: {report.shards} shards, {report.blocks} blocks, "
          f"{report.positions} positions, {report.entries} entries, {len(report.problems)} problems")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
