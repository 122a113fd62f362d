from labqueue.lab.session import qname

ex = lq.PriorityQueue(r, qname("nb03-exercise"))
ex.clear()
ex.enqueue({"type": "work", "name": "a"}, priority=5)
ex.enqueue({"type": "work", "name": "b"}, priority=5)
ex.enqueue({"type": "work", "name": "c"}, priority=1)
my_score_b = 5 * 2**32 + 2       # priority 5, second to arrive
