"""Forms of the data-quality pages, one module per topic."""
