"""Forms of complaints and surveys, one module per topic."""
