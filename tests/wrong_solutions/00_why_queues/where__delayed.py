# expect: not quite: the job is not in .delayed.\. How many attempts does the queue allow
# "It waits for its next retry": not once the attempts are spent.
my_answer = "delayed"
