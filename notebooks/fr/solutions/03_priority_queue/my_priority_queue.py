import json


class MyPriorityQueue:
    """Le job le plus urgent d'abord (le plus petit numéro de priorité), et FIFO entre priorités égales."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name              # le sorted set : membre = le JSON du job, score = sa place dans la file
        self.seq = name + ":seq"     # le compteur d'arrivées, partagé par tous les producteurs (INCR)

    def enqueue(self, job, priority):
        """Ajoute `job` (un dict) avec la priorité `priority` (1 = le plus urgent, jusqu'à 10)."""
        arrival = self.r.incr(self.seq)                      # 1, 2, 3, ... quel que soit le producteur
        self.r.zadd(self.key, {json.dumps(job): priority * 2**32 + arrival})

    def dequeue(self):
        """Le job le plus urgent sous forme de dict, ou None quand la file est vide."""
        popped = self.r.zpopmin(self.key)                    # [(membre, score)] ou []
        return json.loads(popped[0][0]) if popped else None
