# expect: b is not stored with score 21474836481: the score is priority × 2³² \+ arrival number
# The arrival number counted from 0.
from labqueue.lab.session import qname

ex = lq.PriorityQueue(r, qname("nb03-exercise"))
ex.clear()
ex.enqueue({"type": "work", "name": "a"}, priority=5)
ex.enqueue({"type": "work", "name": "b"}, priority=5)
ex.enqueue({"type": "work", "name": "c"}, priority=1)
my_score_b = 5 * 2**32 + 1
