import json


class MyQueue:
    """Une file FIFO dans la liste Redis `name` : LPUSH en tête, BRPOP en queue."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.key = name              # la liste qui contient les jobs, en texte JSON

    def enqueue(self, job):
        """Ajoute `job` (un dict) en tête de la liste (LPUSH de son JSON)."""
        self.r.lpush(self.key, json.dumps(job))

    def dequeue(self, timeout):
        """Le plus ancien job sous forme de dict, en attendant jusqu'à `timeout` secondes (BRPOP) ; None si rien n'est venu."""
        reply = self.r.brpop([self.key], timeout=timeout)   # (clé, entrée) ou None
        return None if reply is None else json.loads(reply[1])

    def size(self):
        """Le nombre de jobs en attente (LLEN)."""
        return self.r.llen(self.key)
