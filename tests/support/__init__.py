"""Shared builders for tests: API Gateway events, Lambda contexts, AWS resources from template.yaml."""
