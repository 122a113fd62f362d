import json
import time

RECOVER = """
-- KEYS : waiting, processing, leases   ARGV[1] : now. Un seul script : deux récupérateurs ne peuvent pas remettre tous deux un job en file.
local expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", ARGV[1])
for _, entry in ipairs(expired) do
    redis.call("LREM", KEYS[2], 1, entry)
    redis.call("RPUSH", KEYS[1], entry)     -- du côté où les jobs sont pris : ce sera le prochain servi
    redis.call("ZREM", KEYS[3], entry)
end
return #expired
"""


class MyLeasedQueue:
    """Une file fiable dont les livraisons portent un bail : une échéance gardée dans le sorted set `leases`."""

    lease_seconds = 0.3

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.waiting = name
        self.processing = name + ":processing"
        self.leases = name + ":leases"           # membre = l'entrée, score = son échéance (secondes unix)

    def enqueue(self, job):
        self.r.lpush(self.waiting, json.dumps(job))

    def dequeue(self, timeout):
        """Déplace le job le plus ancien vers processing et lui donne un bail jusqu'à maintenant + lease_seconds."""
        entry = self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")
        if entry is not None:
            self.r.zadd(self.leases, {entry: time.time() + self.lease_seconds})
        return entry

    def ack(self, entry):
        """Terminé : retire l'entrée de processing, ainsi que son bail."""
        pipe = self.r.pipeline(transaction=True)
        pipe.lrem(self.processing, 1, entry)
        pipe.zrem(self.leases, entry)
        pipe.execute()

    def recover(self, now):
        """Remet chaque job dont l'échéance du bail est <= `now` dans la liste waiting, du côté où les jobs
        sont pris (il sera le prochain servi), en le retirant de processing et des baux ; renvoie leur nombre."""
        script = self.r.register_script(RECOVER)         # l'enregistrement n'envoie rien ; l'appel est un EVALSHA
        return script(keys=[self.waiting, self.processing, self.leases], args=[now])
