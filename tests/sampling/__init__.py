"""Tests of app/sampling (deploy: the deployment files)."""
