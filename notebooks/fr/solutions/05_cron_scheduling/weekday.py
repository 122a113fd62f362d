my_expr = "30 18 * * 1-5"      # minute 30, heure 18, tout jour du mois, tout mois, du lundi au vendredi
my_tz = "America/New_York"
