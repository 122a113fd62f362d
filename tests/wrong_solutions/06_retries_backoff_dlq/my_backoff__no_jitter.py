# expect: attempt 1 \(base 0.5 s, cap 30.0 s\) always waits 0.5 s: without jitter, jobs that failed together retry together
# Exponential and capped, but every job waits exactly the same.
def my_backoff(attempt, base=0.5, cap=30.0):
    return min(cap, base * 2 ** (attempt - 1))
