my_policy = lq.Backoff.from_spec({"type": "exponential", "delay": 2.0})   # les 2000 ms de Bull, en secondes
my_total_wait = my_policy.delay(1) + my_policy.delay(2)                     # après les tentatives 1 et 2
