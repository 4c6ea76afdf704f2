"""Tests of app/cli (deploy: the deployment files)."""
