my_answer = "dead"   # trois tentatives ratées épuisent max_attempts=3 : la file des lettres mortes, avec sa raison
