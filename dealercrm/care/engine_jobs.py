"""Huey jobs of the care engine."""
