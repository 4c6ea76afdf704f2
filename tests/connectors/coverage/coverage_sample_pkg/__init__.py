"""A tiny package that the coverage tests run under coverage.py to get real reports."""
