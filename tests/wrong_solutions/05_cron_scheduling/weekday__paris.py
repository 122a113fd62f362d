# expect: yours runs at Fri 12:30, Mon 12:30, Tue 12:30 New York time, not at 18:30 on the next three weekdays
# The right expression in the wrong time zone.
my_expr = "30 18 * * 1-5"
my_tz = "Europe/Paris"
