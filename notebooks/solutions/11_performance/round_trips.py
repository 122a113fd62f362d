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
    while (item := r.lmove(key, proc, "RIGHT", "LEFT")) is not None:   # the Redis docs' reliable loop
        r.lrem(proc, 1, item)                                          # ... and its ack
raw_trips = raw.count

with count_round_trips(r) as mine:
    done = []
    while True:
        jobs, _ = bq.claim(25, ack=done)        # acks the previous batch, claims the next 25
        if not jobs:
            break
        done = jobs                               # acked by their delivery tokens (job.token)
claim_trips = mine.count
print("raw:", raw_trips, "round trips; claim.lua with prefetch 25:", claim_trips)
