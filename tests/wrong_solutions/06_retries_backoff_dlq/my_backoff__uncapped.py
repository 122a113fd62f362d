# expect: attempt \d+ \(base 0.5 s, cap 30.0 s\) waited \S+ s, more than 30 s: the cap is the longest wait
# No cap: attempt 12 may wait 17 minutes.
import random


def my_backoff(attempt, base=0.5, cap=30.0):
    return random.uniform(0, base * 2 ** (attempt - 1))
