# expect: never waited less than \S+ s of its 0.5 s delay: that is not full jitter
# Equal jitter: uniform in [d/2, d].
import random


def my_backoff(attempt, base=0.5, cap=30.0):
    delay = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(delay / 2, delay)
