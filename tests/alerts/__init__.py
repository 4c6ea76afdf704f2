"""Tests of app/alerts (deploy: the deployment files)."""
