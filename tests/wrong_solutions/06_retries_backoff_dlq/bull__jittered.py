# expect: my_policy draws its waits with jitter \('full'\): the chapter's option has none
# The jitter this notebook recommends, added to the chapter's option: its waits are no longer the chapter's.
my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0, "jitter": "full"})
my_total_wait = 6.0
