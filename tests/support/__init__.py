"""What the tests share: real servers on loopback, processes, polling, config snippets.

- `waiting`: `wait_until` (the one polling loop) and `wait_for_http_ok` (a readiness probe).
- `loopback`: HTTP servers on 127.0.0.1 from a handler class, the route server, a counting proxy.
- `krtracker_server`: the `krtracker serve` / `worker` processes of end-to-end tests.
- `configs`: builders of config TOML (`configs.objective(...)`, `configs.key_result(...)`, ...);
  `config_documents`: the dict documents and `validate` files of the config tests.
- `prometheus_server`, `alertmanager_server`, `smtp_server`, `github_replay`,
  `postgres_cluster`: the real third-party servers tests talk to.

Import from the module (`from tests.support.waiting import wait_until`); this package
re-exports the everyday helpers for short imports.
"""

from tests.support.krtracker_server import krtracker_command, krtracker_serve
from tests.support.waiting import wait_for_http_ok, wait_until

__all__ = ["krtracker_command", "krtracker_serve", "wait_for_http_ok", "wait_until"]
