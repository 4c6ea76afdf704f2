"""The pure core: progress, forecast, alert rules and their data, with an explicit `now`.

Nothing here does I/O or imports a module that does; tests drive it with hypothesis.
"""
