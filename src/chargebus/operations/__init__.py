"""What an operator does to stations: calls through the edge and the state that follows
their answers."""
