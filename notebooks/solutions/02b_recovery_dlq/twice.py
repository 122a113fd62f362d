my_prediction = 2   # each worker died after the work, before the ack: its job was recovered and run again
