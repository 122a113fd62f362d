# expect: claim_trips = 2 is not it: each claim acks the previous batch and takes the next 25
# Forgot the last claim, the one that finds the queue empty and acks the last batch.
from labqueue.bench.roundtrips import count_round_trips
from labqueue.lab.session import qname

key, proc = qname("perf-ex") + ":raw", qname("perf-ex") + ":raw-processing"
r.delete(key, proc)
r.lpush(key, *[f"job-{i}" for i in range(50)])
bq = lq.ReliableQueue(r, qname("perf-ex"))
bq.clear()
bq.claim(1)                          # empty: only loads claim.lua, so the count below is the steady state
bq.enqueue_many([{"i": i} for i in range(50)])

with count_round_trips(r) as raw:
    while (item := r.lmove(key, proc, "RIGHT", "LEFT")) is not None:
        r.lrem(proc, 1, item)
raw_trips = raw.count
claim_trips = 2
