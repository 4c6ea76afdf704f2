"""The store: every table and all SQL, one module per family of tables.

Nothing outside this package writes SQL. Functions take an open `Session` or `Connection`
and leave committing to the caller unless their docstring says otherwise.
"""
