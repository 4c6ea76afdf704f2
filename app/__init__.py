"""krtracker service: config, storage, progress engine, sampling, scheduler, API and CLI."""
