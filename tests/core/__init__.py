"""Tests of app/core (deploy: the deployment files)."""
