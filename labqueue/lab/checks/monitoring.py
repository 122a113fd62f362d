"""Checks of notebook 07: the student's get_metrics (size read from Redis, in one MULTI), the p95 bucket."""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from ..i18n import Number, _
from . import NotDone, fail, guard, job_ids, jobs, need, passed, qname, state


def _metrics(q: Any) -> dict[str, int]:
    m = q.get_metrics()
    if m is None:
        raise NotDone(_("get_metrics returns None: return the dict of metrics."))
    if not isinstance(m, dict) or not {"total_enqueued", "total_dequeued", "current_size"} <= set(m):
        raise fail(_("get_metrics() returned {got!r}; it should return a dict with total_enqueued, total_dequeued "
                     "and current_size.").format(got=m))
    try:
        return {k: int(m[k]) for k in ("total_enqueued", "total_dequeued", "current_size")}
    except (TypeError, ValueError):
        raise fail(_("get_metrics() returned {got!r}: each metric should be an integer.").format(got=m)) from None


@guard
def monitored_queue(r: Any, namespace: Mapping[str, Any]) -> str:
    """The drift scenario of the lesson (a retry pushed back by another path, a list emptied by hand), a
    worker crash with the lab's crash injection, and the commands one get_metrics sends (one MULTI)."""
    (MonitoredQueue,) = need(namespace, _("Build it yourself: a size that cannot drift"), "MyMonitoredQueue")
    from ..trace import Tracer
    from .harness import StudentQueue, run_workers

    name = qname("nb07-monitored")
    with state(r, name):
        q = MonitoredQueue(r, name)
        for job in jobs(10):
            q.enqueue(job)
        taken = [q.dequeue(timeout=1) for _n in range(3)]
        m = _metrics(q)
        if (m["total_enqueued"], m["total_dequeued"]) != (10, 3):
            raise fail(_("after 10 enqueues and 3 dequeues get_metrics() says {enqueued} enqueued and {dequeued} "
                         "dequeued: read the counters from the hash `{key}`.")
                       .format(enqueued=m["total_enqueued"], dequeued=m["total_dequeued"], key=q.metrics_key))
        r.lpush(name, json.dumps(taken[0]))  # a retry path: back in the list without calling enqueue()
        m = _metrics(q)
        if m["current_size"] != r.llen(name):
            raise fail(_("a job was pushed back by a retry path (LPUSH, not your enqueue()): current_size says {size} "
                         "but the list holds {n} jobs; read the size from the list itself (LLEN), never from a "
                         "counter.").format(size=m["current_size"], n=r.llen(name)))
        r.delete(name)  # someone empties the list by hand
        if (size := _metrics(q)["current_size"]) != 0:
            raise fail(_("the list was deleted by hand and current_size still says {size}: read it with LLEN.")
                       .format(size=size))

        batch = jobs(12, prefix="crash")
        for job in batch:
            q.enqueue(job)
        tally = run_workers(StudentQueue(q, r, name), job_ids(batch), workers=2, crash_first=1)
        m = _metrics(q)
        if m["current_size"] != r.llen(name) or tally.processed + tally.lost != 12:
            raise fail(_("after a worker crash, current_size says {size} but the list holds {n} jobs.")
                       .format(size=m["current_size"], n=r.llen(name)))

        tracer = Tracer(r, preload_scripts=False)
        traced = MonitoredQueue(tracer.client, name)
        with tracer.record("get_metrics") as sent:
            traced.get_metrics()
        tracer.close()
        names = [c.name for c in sent]
        reads = [c for c in sent if c.name not in ("MULTI", "EXEC")]
        if names[:1] != ["MULTI"] or names[-1:] != ["EXEC"] or any(not c.pipeline for c in reads):
            raise fail(_("get_metrics sent {sent}: separate reads, so under load the counters and the size come "
                         "from different instants; read them in one MULTI (r.pipeline(transaction=True)).")
                       .format(sent=" + ".join(names)))
    return passed(_("get_metrics reads the size from the list (LLEN) with the counters in one MULTI: it stayed "
                    "true after a retry pushed behind the queue's back, a list emptied by hand and a worker crash."))


def scraped_buckets(body: str, job_type: str = "send-email") -> list[tuple[float, float]]:
    """The cumulative (le, count) buckets of `job_type` in a scraped exposition, sorted by le."""
    from prometheus_client.parser import text_string_to_metric_families

    return sorted((float(s.labels["le"]), s.value) for fam in text_string_to_metric_families(body)
                  for s in fam.samples if s.name == "queue_processing_duration_seconds_bucket"
                  and s.labels.get("job_type") == job_type)


@guard
def p95_bucket(r: Any, namespace: Mapping[str, Any]) -> str:
    """Compares `my_p95_bucket` with the smallest `le` whose cumulative count reaches 95 % of the attempts,
    read from the scraped text itself (`body`), not from the `buckets` and `total` the exercise cell may change."""
    _buckets, _total, my_p95_bucket = need(namespace, _("Exercise"), "buckets", "total", "my_p95_bucket")
    (body,) = need(namespace, _("Prometheus"), "body")
    if my_p95_bucket is None:
        raise NotDone(_("put your answer, in seconds, in `my_p95_bucket`, run its cell, then this check."))
    buckets = scraped_buckets(body)
    total = buckets[-1][1]
    expected = min(le for le, count in buckets if count >= 0.95 * total)
    number = isinstance(my_p95_bucket, (int, float)) and not isinstance(my_p95_bucket, bool)
    if number and math.isclose(my_p95_bucket, expected * 1000):
        raise fail(_("{said} is not it: the bounds `le` are in seconds (the line above shows milliseconds); write "
                     "the bound in seconds.").format(said=my_p95_bucket))
    if not (number and math.isclose(my_p95_bucket, expected)):
        raise fail(_("{said} is not it: each bucket counts the attempts that took at most `le` seconds "
                     "(cumulative); find the first bound whose count reaches 95 % of the {total:.0f} attempts.")
                   .format(said=my_p95_bucket, total=total))
    return passed(_("correct: {bucket} s; 95 % of the send-email attempts finished within it.").format(bucket=Number(expected)))
