# expect: 8.0 s is not it: add the wait after the first failure to the wait after the second
# Bull 3's own formula, delay·(2^n − 1) (2 s then 6 s), is not labqueue's exponential policy.
my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0})
my_total_wait = 8.0
