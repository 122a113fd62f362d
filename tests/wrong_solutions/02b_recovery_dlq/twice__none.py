# expect: not quite: you said 0\. Ask what the two workers had done before dying
# "A reliable queue runs every job exactly once": no, at least once.
my_prediction = 0
