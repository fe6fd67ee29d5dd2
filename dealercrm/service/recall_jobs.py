"""Huey jobs of recalls."""
