# expect: not quite: you said 1\. How many jobs can one process hold done but not yet acked
# One per kill: true of a single-threaded worker only.
max_duplicates_per_kill = 1
