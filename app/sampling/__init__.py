"""Sampling: when each Key Result is measured, and the one writer that stores every outcome.

scheduler → measure (ask the connector) → recorder (batches) → writer (store, evaluate,
alert rules, one transaction); `figures` says where the writer reads a Key Result's figures.
"""
