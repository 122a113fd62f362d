import json

PROMOTE = """
-- KEYS[1] : le sorted set des jobs différés (score = heure d'exécution, s unix)   KEYS[2] : la liste des prêts   ARGV[1] : now
-- Déplace vers la liste des prêts chaque job échu à `now` (score <= now), le premier échu poussé en premier ;
-- renvoie le nombre de jobs déplacés. Redis exécute le script d'un bloc : personne ne peut agir entre ses étapes.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, job in ipairs(due) do
    redis.call('LPUSH', KEYS[2], job)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #due
"""


class MyScheduler:
    """Des jobs différés dans un sorted set dont le score est l'heure d'exécution ; promote_due déplace
    les jobs échus vers une liste des prêts."""

    def __init__(self, redis_client, name):
        self.r = redis_client
        self.delayed = name + ":delayed"
        self.ready = name + ":ready"            # les workers font RPOP à son extrémité
        self.promote = self.r.register_script(PROMOTE)

    def schedule(self, job, run_at):
        """Ajoute `job` (un dict), à exécuter à l'instant unix `run_at` (ZADD)."""
        self.r.zadd(self.delayed, {json.dumps(job): run_at})

    def promote_due(self, now):
        """Déplace les jobs échus à `now` vers la liste des prêts en une seule étape atomique ; renvoie
        leur nombre."""
        return self.promote(keys=[self.delayed, self.ready], args=[now])
