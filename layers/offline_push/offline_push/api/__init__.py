"""Interface layer: turns API Gateway events into calls of the logic layer and answers into responses."""
