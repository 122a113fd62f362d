# expect: 6 is not how many are due at base \+ 2.75 s
# Counted 3.0 as due.
my_due = 6
my_next = 3.5
