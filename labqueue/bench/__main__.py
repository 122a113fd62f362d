"""`python -m labqueue.bench [--n N] [--threads K] [--url URL | --fake] [--compare] [--json F] [--chart F]`.

`python -m labqueue.bench --cluster [--n N] [--queues Q] [--procs P] [--url CLUSTER_URL]`: Q queues on
one server against the same on a Redis Cluster, and the cost of durable enqueue (labqueue.bench.cluster).
"""

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
    parser.add_argument("--cluster", action="store_true",
                        help="one server against a Redis Cluster (a private 3+3 one, or --url) and durable enqueue")
    parser.add_argument("--queues", type=int, default=6, help="--cluster: queues (default 6)")
    parser.add_argument("--procs", type=int, default=2, help="--cluster: worker processes (default 2)")
    parser.add_argument("--durable-jobs", type=int, default=2000, help="--cluster: jobs per durable run (default 2000)")
    parser.add_argument("--chart", metavar="FILE", help="write a PNG chart")
    args = parser.parse_args(argv)

    if args.cluster:
        import json

        from .cluster import cluster_table, run_cluster

        if args.fake:
            parser.error("--cluster needs real servers: it starts a redis-server and a local cluster")
        found = run_cluster(args.n, args.queues, args.procs, min(args.threads, 4), args.prefetch, args.durable_jobs,
                            cluster_url=args.url, progress=lambda label: print(label, file=sys.stderr, flush=True))
        print(cluster_table(found))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(found, out, indent=1)
        return 0

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
