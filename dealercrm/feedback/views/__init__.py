"""Pages of complaints and surveys, one module per topic (see urls.py, survey_urls.py,
public_urls.py)."""
