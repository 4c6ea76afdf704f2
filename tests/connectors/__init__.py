"""Tests of connectors/."""
