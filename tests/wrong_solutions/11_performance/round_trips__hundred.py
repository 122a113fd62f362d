# expect: raw_trips = 100 is not what the raw loop sends for 50 jobs
# Two per job, forgetting the LMOVE that finds the list empty.
raw_trips = 100
claim_trips = 3
