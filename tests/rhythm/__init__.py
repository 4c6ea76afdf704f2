"""Tests of app/rhythm (deploy: the deployment files)."""
