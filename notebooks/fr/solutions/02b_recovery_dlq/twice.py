my_prediction = 2   # chaque worker est mort après le travail, avant l'ack : son job a été récupéré et exécuté à nouveau
