# expect: the queue gives a, b, c, not c, a, b
# c given the same priority as a and b: it comes last, by arrival.
from labqueue.lab.session import qname

ex = lq.PriorityQueue(r, qname("nb03-exercise"))
ex.clear()
for name in "abc":
    ex.enqueue({"type": "work", "name": name}, priority=5)
my_score_b = 5 * 2**32 + 2
