"""Tests of the deployment files: Dockerfile, compose, Grafana, the Action, pre-commit."""
