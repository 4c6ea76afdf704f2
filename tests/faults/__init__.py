"""Fault tests: sources down, databases restarted, processes killed."""
