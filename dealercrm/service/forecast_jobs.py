"""Huey jobs of the mileage forecast."""
