max_duplicates_per_kill = run.concurrency   # one finished-but-unacked job per thread of the killed process
