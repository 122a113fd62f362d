# expect: your claim loop left 50 jobs in the queue
# The claim loop never acks: the count is right by chance (3 claims), but the 50 jobs stay leased and
# come back when their leases run out.
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

with count_round_trips(r) as mine:
    while True:
        jobs, _ = bq.claim(25)               # never acks what it claimed
        if not jobs:
            break
claim_trips = mine.count
