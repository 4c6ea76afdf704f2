"""Tests of app/reports (deploy: the deployment files)."""
