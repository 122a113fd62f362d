# expect: c was enqueued before a: enqueue a, b, c in that order
# c enqueued first, all three at one priority: c, a, b by arrival alone, and the priorities play no part.
from labqueue.lab.session import qname

ex = lq.PriorityQueue(r, qname("nb03-exercise"))
ex.clear()
ex.enqueue({"type": "work", "name": "c"}, priority=5)
ex.enqueue({"type": "work", "name": "a"}, priority=5)
ex.enqueue({"type": "work", "name": "b"}, priority=5)
my_score_b = 5 * 2**32 + 3
