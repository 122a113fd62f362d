# expect: right in November, but after the change of 8 March 2026 yours runs at Fri 18:30, Mon 19:30, Tue 19:30 New York time: the time zone .EST. does not change its clocks when New York does
# The fixed-offset zone EST (UTC-5) is New York's winter time only: it never moves to daylight saving time.
my_expr = "30 18 * * 1-5"
my_tz = "EST"
