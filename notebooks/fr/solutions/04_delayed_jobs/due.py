from labqueue.lab.session import qname

ex = lq.DelayedQueue(r, qname("nb04-exercise"))
ex.clear()
base = time.time()
for d in [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]:
    ex.enqueue({"type": "remind", "delay": d}, delay_seconds=d)
print(ex.process_delayed_jobs(now=base + 2.75), "échus ;", round(ex.next_due() - base, 2), "s jusqu'au suivant")

my_due = 5       # les délais 0,5, 1, 1,5, 2 et 2,5 s sont <= 2,75 s
my_next = 3.0    # le plus petit délai encore en attente
