# expect: the chapter's is exponential with a delay of 2000 ms, and labqueue counts in seconds
# Bull's milliseconds copied as they are.
my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2000})
my_total_wait = 6000.0
