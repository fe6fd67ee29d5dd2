"""Reads of the sales pipeline, one module per topic (like services)."""
