import json


class MyReliableQueue:
    """Un job passe dans une liste de traitement quand il est livré, et n'en sort que lorsqu'il est acquitté."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.waiting = name                      # LPUSH en tête, prise en queue
        self.processing = name + ":processing"   # livrés, pas encore acquittés

    def enqueue(self, job):
        """Ajoute `job` (un dict) en tête de la liste d'attente."""
        self.r.lpush(self.waiting, json.dumps(job))

    def dequeue(self, timeout):
        """Déplace le plus ancien job de waiting vers processing en une seule commande, en attendant jusqu'à
        `timeout` s (BLMOVE waiting processing RIGHT LEFT) ; renvoie l'entrée exactement telle que Redis la
        stocke, ou None."""
        return self.r.blmove(self.waiting, self.processing, timeout, "RIGHT", "LEFT")

    def ack(self, entry):
        """Le job `entry` (tel que dequeue l'a renvoyé) est terminé : retire exactement cette entrée de processing."""
        self.r.lrem(self.processing, 1, entry)      # la chaîne même que BLMOVE a déplacée : elle correspond
