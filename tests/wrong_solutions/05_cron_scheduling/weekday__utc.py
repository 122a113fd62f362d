# expect: right in November, but after the change of 8 March 2026 yours runs at Fri 18:30, Mon 19:30, Tue 19:30 New York time: the time zone .UTC. does not change its clocks when New York does
# 18:30 New York converted to UTC in November (23:30 UTC), in the UTC zone: right in winter, an hour late all summer.
my_expr = "30 23 * * 1-5"
my_tz = "UTC"
