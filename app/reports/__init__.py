"""Reports over stored history: the weekly review, the period scorecard, the retrospective."""
