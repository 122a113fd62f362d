# expect: my_policy waits 2 s after the first failure and 6 s after the second: the chapter's exponential option doubles the wait each time
# Bull 3's 2 s then 6 s rebuilt with a factor of 3: the waits of another formula, not the chapter's option under labqueue.
my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0, "factor": 3})
my_total_wait = my_policy.delay(1) + my_policy.delay(2)
