"""Tests of app/openslo (deploy: the deployment files)."""
