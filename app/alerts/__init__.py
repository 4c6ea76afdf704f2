"""Alerts: which events the rules raise go where, in which format, and their delivery.

The rules themselves are pure (`app.core.alert_rules`); `routing` turns their events into
outbox rows inside the writer's transaction, and `delivery` sends them later, at least once.
"""
