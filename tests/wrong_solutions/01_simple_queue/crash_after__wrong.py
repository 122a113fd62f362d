# expect: not quite: you said 3\. Ask when each crashed job left Redis
# One job per crash: the guess the lesson's part 3 suggests, wrong when the work was already done.
my_prediction = 3
