"""`python -m labqueue.bench [--n N] [--threads K] [--url URL | --fake] [--compare] [--json F] [--chart F]`."""

from __future__ import annotations

import argparse
import sys

from .report import chart, summary, write_json
from .run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labqueue.bench", description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="jobs per measurement (default 20000)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads of the K-thread runs (default 4)")
    parser.add_argument("--prefetch", type=int, default=50, help="jobs claimed per round trip (default 50)")
    parser.add_argument("--lease", type=float, default=2.0, help="lease of the reliable queue, s (default 2)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="a Redis URL (default: start a private redis-server for the run)")
    where.add_argument("--fake", action="store_true", help="run on the embedded fakeredis")
    parser.add_argument("--compare", action="store_true", help="also run RQ and BullMQ (installed on demand)")
    parser.add_argument("--skip-imports", action="store_true", help="do not time the imports")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--chart", metavar="FILE", help="write a PNG chart")
    args = parser.parse_args(argv)

    def progress(label: str, done: int, total: int) -> None:
        print(f"[{done}/{total - 1}] {label}", file=sys.stderr, flush=True)

    result = run(args.n, args.threads, url=args.url, fake=args.fake, compare=args.compare,
                 imports=not args.skip_imports,
                 prefetch=args.prefetch, lease=args.lease, progress=progress)
    print(summary(result))
    if args.json:
        write_json(result, args.json)
    if args.chart:
        import matplotlib

        matplotlib.use("Agg")
        chart(result, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
