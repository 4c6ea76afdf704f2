"""Tests of webhook delivery: the worker, retries, safety and the webhooks API."""
