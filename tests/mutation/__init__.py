"""Mutation testing of the layer's rules: `make mutate` (README.md "Mutation testing")."""
