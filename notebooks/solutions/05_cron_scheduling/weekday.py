my_expr = "30 18 * * 1-5"      # minute 30, hour 18, any day of the month, any month, Monday to Friday
my_tz = "America/New_York"
