# expect: is not it: each bucket counts the attempts that took at most `le` seconds \(cumulative\)
# The +Inf bucket: every attempt is in it, so it is never the answer.
buckets = [(0.005, 40.0), (0.01, 90.0), (0.025, 100.0), (float("inf"), 100.0)]
total = 100.0
my_p95_bucket = float("inf")
