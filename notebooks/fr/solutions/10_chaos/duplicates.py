max_duplicates_per_kill = run.concurrency   # un job terminé mais pas encore acquitté par thread du processus tué
