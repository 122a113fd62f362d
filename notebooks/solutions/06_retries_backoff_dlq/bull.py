my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0})   # Bull's 2000 ms, in seconds
my_total_wait = my_policy.delay(1) + my_policy.delay(2)                     # after attempts 1 and 2
