# expect: my_total_wait is '6 s', not a number of seconds
# The right wait written as text: the check needs the number (it crashed with a TypeError on it before).
my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0})
my_total_wait = "6 s"
