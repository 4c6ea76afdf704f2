"""Tests of app/config (deploy: the deployment files)."""
