"""Helpers of the generated tenancy matrix (tests/test_tenancy_matrix.py)."""
