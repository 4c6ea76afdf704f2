"""The config file: its models, loading with `${ENV}` and `*_file`, checks, lint and secrets.

`loading.load_config` is the way in; the models (`models`, `objectives`, `delivery`) are
plain pydantic and import nothing with I/O.
"""
