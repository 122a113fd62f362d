import random


def my_backoff(attempt, base=0.5, cap=30.0):
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): exponential from `base` (base,
    2·base, 4·base, ...), never more than `cap`, with full jitter (uniform between 0 and that)."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(0, delay)
