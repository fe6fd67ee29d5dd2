"""Template tags of complaints and surveys."""
