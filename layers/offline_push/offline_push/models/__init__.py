"""Typed records passed between the layers."""
