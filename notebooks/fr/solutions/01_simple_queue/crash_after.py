my_prediction = 0   # l'email était parti avant chaque crash : le travail était fait, rien n'est perdu
