from labqueue.bench.roundtrips import count_round_trips
from labqueue.lab.session import qname

key, proc = qname("perf-ex") + ":raw", qname("perf-ex") + ":raw-processing"
r.delete(key, proc)
r.lpush(key, *[f"job-{i}" for i in range(50)])
bq = lq.ReliableQueue(r, qname("perf-ex"))
bq.clear()
bq.claim(1)                          # file vide : charge seulement claim.lua, pour mesurer ci-dessous le régime établi
bq.enqueue_many([{"i": i} for i in range(50)])

with count_round_trips(r) as raw:
    while (item := r.lmove(key, proc, "RIGHT", "LEFT")) is not None:   # la boucle fiable de la documentation Redis
        r.lrem(proc, 1, item)                                          # ... et son ack
raw_trips = raw.count

with count_round_trips(r) as mine:
    done = []
    while True:
        jobs, _ = bq.claim(25, ack=done)        # acquitte le lot précédent, réclame les 25 suivants
        if not jobs:
            break
        done = jobs                               # acquittés par leurs jetons de livraison (job.token)
claim_trips = mine.count
print("boucle brute :", raw_trips, "allers-retours ; claim.lua avec prefetch 25 :", claim_trips)
