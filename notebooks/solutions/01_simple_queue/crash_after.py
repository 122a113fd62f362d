my_prediction = 0   # the email went out before each crash: the work was done, nothing is lost
