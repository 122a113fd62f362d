# expect: attempt 1 \(base 0.5 s, cap 30.0 s\) waited \S+ s, more than 0.5 s: the first retry waits at most base
# base·2^attempt: the first retry already waits up to twice the base.
import random


def my_backoff(attempt, base=0.5, cap=30.0):
    return random.uniform(0, min(cap, base * 2 ** attempt))
