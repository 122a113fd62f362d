import random


def my_backoff(attempt, base=0.5, cap=30.0):
    """Secondes d'attente après la tentative échouée `attempt` (1, 2, ...) : exponentielle à partir de
    `base` (base, 2·base, 4·base, ...), jamais plus que `cap`, avec gigue full (uniforme entre 0 et ce délai)."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(0, delay)
