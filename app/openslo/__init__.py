"""`krtracker import openslo`: OpenSLO documents turned into Key Results."""
