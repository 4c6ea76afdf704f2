"""Tests of app/store (deploy: the deployment files)."""
