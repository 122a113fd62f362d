from labqueue.lab.session import qname

ex = lq.DelayedQueue(r, qname("nb04-exercise"))
ex.clear()
base = time.time()
for d in [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]:
    ex.enqueue({"type": "remind", "delay": d}, delay_seconds=d)
print(ex.process_delayed_jobs(now=base + 2.75), "due;", round(ex.next_due() - base, 2), "s to the next")

my_due = 5       # the delays 0.5, 1, 1.5, 2 and 2.5 s are <= 2.75 s
my_next = 3.0    # the smallest delay still waiting
