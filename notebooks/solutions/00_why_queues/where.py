my_answer = "dead"   # three failed attempts spend max_attempts=3: the dead-letter queue, with its reason
