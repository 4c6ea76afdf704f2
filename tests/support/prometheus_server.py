"""Start a real Prometheus over generated OpenMetrics history, for tests and benchmarks.

The history is written as OpenMetrics text, turned into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics` and served by a `prometheus` that scrapes
nothing, so every value a query sees is one this module wrote.
"""

from __future__ import annotations

import math
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.conftest import free_port
from tests.support.waiting import wait_for_http_ok

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
COVERAGE = 'test_coverage_ratio{repo="payments-api"}'
QUEUE_DEPTHS = ('queue_depth{queue="emails"}', 'queue_depth{queue="webhooks"}')
# Present only in the first half of the history, with a NaN every tenth point.
NIGHTLY = 'batch_success_ratio{job="nightly"}'
_STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SyntheticHistory:
    """OpenMetrics text plus the facts a test may check against it (unix seconds)."""

    text: str
    start: int
    end: int
    step_seconds: int
    gauges: dict[str, dict[int, float]] = field(default_factory=dict)


def synthetic_history(
    *,
    end: int | None = None,
    duration_seconds: int = 4 * 3600,
    step_seconds: int = 15,
    seed: int = 7,
) -> SyntheticHistory:
    """Return deterministic OpenMetrics history ending at `end` (default: ten minutes ago)."""
    if end is None:
        # Whole minutes in the recent past, so evaluation times can be written plainly.
        end = (int(time.time()) - 600) // 60 * 60
    start = end - duration_seconds
    stamps = list(range(start, end + 1, step_seconds))
    rng = random.Random(seed)
    lines: list[str] = []
    lines += _histogram_lines(rng, stamps, service="payments", median_seconds=0.08)
    lines += _histogram_lines(rng, stamps, service="search", median_seconds=0.03)
    lines += _counter_lines(rng, stamps)
    gauges = {
        COVERAGE: {
            t: 0.6 + 0.2 * i / len(stamps) + rng.random() / 100 for i, t in enumerate(stamps)
        },
        QUEUE_DEPTHS[0]: {t: float(rng.randint(0, 500)) for t in stamps},
        QUEUE_DEPTHS[1]: {t: rng.randint(0, 50_000) / 7 for t in stamps},
        NIGHTLY: {
            t: math.nan if i % 10 == 9 else rng.random()
            for i, t in enumerate(stamps[: len(stamps) // 2])
        },
    }
    for name in sorted({selector.split("{")[0] for selector in gauges}):
        lines.append(f"# TYPE {name} gauge")
        for selector, samples in gauges.items():
            if selector.startswith(name + "{"):
                lines += [f"{selector} {_number(v)} {t}" for t, v in samples.items()]
    lines.append("# EOF")
    return SyntheticHistory(
        text="\n".join(lines) + "\n",
        start=start,
        end=end,
        step_seconds=step_seconds,
        gauges=gauges,
    )


def _histogram_lines(
    rng: random.Random, stamps: list[int], *, service: str, median_seconds: float
) -> list[str]:
    name = "http_request_duration_seconds"
    lines = [f"# TYPE {name} histogram"] if service == "payments" else []
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    total = 0.0
    for t in stamps:
        for _ in range(rng.randint(20, 40)):
            latency = rng.lognormvariate(math.log(median_seconds), 0.7)
            total += latency
            for i, bound in enumerate((*LATENCY_BUCKETS, math.inf)):
                if latency <= bound:
                    counts[i] += 1
        labels = f'service="{service}"'
        for bound, count in zip((*LATENCY_BUCKETS, math.inf), counts, strict=True):
            le = "+Inf" if bound == math.inf else repr(bound)
            lines.append(f'{name}_bucket{{{labels},le="{le}"}} {count} {t}')
        lines.append(f"{name}_count{{{labels}}} {counts[-1]} {t}")
        lines.append(f"{name}_sum{{{labels}}} {total!r} {t}")
    return lines


def _counter_lines(rng: random.Random, stamps: list[int]) -> list[str]:
    lines = ["# TYPE deployments counter"]
    deployments = 0
    for t in stamps:
        if rng.random() < 0.02:
            deployments += 1
        lines.append(f'deployments_total{{service="payments"}} {deployments} {t}')
    return lines


def _number(value: float) -> str:
    # repr() is the shortest text that reads back as the same float, as Prometheus writes it.
    return "NaN" if math.isnan(value) else repr(value)


class RunningPrometheus:
    """A `prometheus` process over a data directory; stop, kill and restart it at will."""

    def __init__(self, *, binary: str, workdir: Path, data_dir: Path, port: int) -> None:
        self.binary = binary
        self.workdir = workdir
        self.data_dir = data_dir
        self.port = port
        self.config_file = workdir / "prometheus.yml"
        self.log_file = workdir / "prometheus.log"
        self.config_file.write_text("global:\n  evaluation_interval: 1m\nscrape_configs: []\n")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until `/-/ready` answers."""
        if self._process is not None:
            raise RuntimeError("prometheus is already running")
        command = [
            self.binary,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def stop(self) -> None:
        """Stop the process gracefully (SIGTERM), then wait for it."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as an outage would."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        """Start again on the same port and data, stopping first if still running."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the process log, for failure messages."""
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def _end(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def _wait_ready(self) -> None:
        assert self._process is not None
        problem = wait_for_http_ok(
            f"{self.url}/-/ready",
            timeout=_STARTUP_TIMEOUT_SECONDS,
            process=self._process,
            every=0.05,
        )
        if problem == "exited":
            self._process = None
        elif problem is not None:
            self.kill()
        if problem is not None:
            raise RuntimeError(f"prometheus {problem}:\n{self.log_tail()}")

    def __enter__(self) -> RunningPrometheus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_prometheus(
    tmp_path: Path,
    *,
    openmetrics_text: str,
    prometheus: str = "prometheus",
    promtool: str = "promtool",
) -> RunningPrometheus:
    """Load `openmetrics_text` into TSDB blocks under `tmp_path` and start Prometheus on them."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "history.om.txt"
    source.write_text(openmetrics_text)
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool could not create blocks:\n{result.stdout}{result.stderr}")
    server = RunningPrometheus(
        binary=prometheus, workdir=tmp_path, data_dir=data_dir, port=free_port()
    )
    server.start()
    return server


def start_scraping_prometheus(
    tmp_path: Path, *, targets: list[str], prometheus: str = "prometheus"
) -> RunningPrometheus:
    """Start a Prometheus with an empty TSDB that scrapes `targets` (host:port) every second."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    server = RunningPrometheus(
        binary=prometheus, workdir=tmp_path, data_dir=tmp_path / "data", port=free_port()
    )
    quoted = ", ".join(f'"{target}"' for target in targets)
    server.config_file.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: krtracker\n    static_configs:\n      - targets: [{quoted}]\n"
    )
    server.start()
    return server
