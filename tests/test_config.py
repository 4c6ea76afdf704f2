"""The config file: every broken config is refused with its key path; warnings do not refuse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError, LoadedConfig, Problem, load_config, parse_config

DROP = object()


def key_result(**fields: Any) -> dict[str, Any]:
    """Return a valid decrease Key Result fed by the manual connector, with `fields` changed."""
    base: dict[str, Any] = {
        "id": "p99",
        "title": "Reduce P99 latency by 30%",
        "unit": "ms",
        "direction": "decrease",
        "baseline": 400,
        "target": 280,
        "source": {"connector": "people"},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def objective(*krs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a valid objective for 2026-Q4 holding `krs` (one default KR if none)."""
    base: dict[str, Any] = {
        "id": "fast",
        "title": "Payments are fast",
        "period": "2026-Q4",
        "key_results": list(krs) if krs else [key_result()],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def document(*objectives: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """Return a whole config with a manual connector named `people` and `objectives`."""
    doc: dict[str, Any] = {
        "connectors": {"people": {"type": "manual"}},
        "objectives": list(objectives) if objectives else [objective()],
    }
    doc.update(sections)
    return doc


def errors_of(raw: dict[str, Any]) -> list[Problem]:
    """Return the errors parse_config raises for `raw` (fails if it accepts the config)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return [p for p in caught.value.problems if p.severity == "error"]


def two_objectives(second_kr: dict[str, Any]) -> dict[str, Any]:
    """Return a config whose second objective holds `second_kr` (to pin `objectives[1]`)."""
    return document(objective(), objective(second_kr, id="reliable", title="Reliable"))


BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, document, expected key path, fragment of the message)
    ("top-level typo", document(databse={"url": "sqlite://"}), "databse", "unknown key"),
    ("database typo", document(database={"uri": "x"}), "database.uri", "unknown key"),
    ("api typo", document(api={"tokenz": []}), "api.tokenz", "unknown key"),
    (
        "api token typo",
        document(api={"tokens": [{"name": "ci", "token": "x" * 20, "scope": ["read"]}]}),
        "api.tokens[0].scope",
        "unknown key",
    ),
    ("status typo", document(status={"at_risk": 0.2}), "status.at_risk", "unknown key"),
    ("scheduler typo", document(scheduler={"workers": 2}), "scheduler.workers", "unknown key"),
    ("objective typo", document(objective(tittle="x")), "objectives[0].tittle", "unknown key"),
    (
        "key result typo",
        document(objective(key_result(tagret=5))),
        "objectives[0].key_results[0].tagret",
        "unknown key",
    ),
    (
        "aggregate typo",
        document(objective(key_result(aggregate={"window": "1d", "fn": "avg"}))),
        "objectives[0].key_results[0].aggregate.fn",
        "unknown key",
    ),
    (
        "connector section typo",
        document(connectors={"people": {"type": "manual", "url": "http://x"}}),
        "connectors.people.url",
        "unknown key",
    ),
    (
        "source typo",
        document(objective(key_result(source={"connector": "people", "query": "up"}))),
        "objectives[0].key_results[0].source.query",
        "unknown key",
    ),
    (
        "duplicate objective id",
        document(objective(key_result(id="a")), objective(key_result(id="b"))),
        "objectives[1].id",
        "duplicate objective id 'fast'",
    ),
    (
        "duplicate key result id across objectives",
        two_objectives(key_result()),
        "objectives[1].key_results[0].id",
        "duplicate Key Result id 'p99'",
    ),
    (
        "end before start",
        document(objective(period=DROP, start="2026-10-31", end="2026-10-01")),
        "objectives[0].end",
        "before start",
    ),
    (
        "target equals baseline",
        two_objectives(key_result(id="avail", baseline=99.5, target=99.5)),
        "objectives[1].key_results[0].target",
        "equals baseline",
    ),
    (
        "relative target of +0%",
        document(objective(key_result(target="+0%"))),
        "objectives[0].key_results[0].target",
        "0%",
    ),
    (
        "relative target of -0%",
        document(objective(key_result(target="-0%"))),
        "objectives[0].key_results[0].target",
        "0%",
    ),
    (
        "relative target without a sign",
        document(objective(key_result(target="30%"))),
        "objectives[0].key_results[0].target",
        "relative change",
    ),
    (
        "relative increase on a decrease KR",
        document(objective(key_result(target="+30%"))),
        "objectives[0].key_results[0].target",
        "wrong way",
    ),
    (
        "relative decrease on an increase KR",
        document(objective(key_result(direction="increase", baseline=60, target="-10%"))),
        "objectives[0].key_results[0].target",
        "wrong way",
    ),
    (
        "absolute target on the wrong side",
        document(objective(key_result(direction="increase", baseline=60, target=50))),
        "objectives[0].key_results[0].target",
        "wrong side",
    ),
    (
        "target given as a boolean",
        document(objective(key_result(target=True))),
        "objectives[0].key_results[0].target",
        "number",
    ),
    (
        "baseline neither number nor first_sample",
        document(objective(key_result(baseline="first"))),
        "objectives[0].key_results[0].baseline",
        "first_sample",
    ),
    (
        "unknown direction",
        document(objective(key_result(direction="up"))),
        "objectives[0].key_results[0].direction",
        "increase",
    ),
    (
        "missing title",
        document(objective(key_result(title=DROP))),
        "objectives[0].key_results[0].title",
        "required",
    ),
    (
        "unknown connector",
        document(objective(key_result(source={"connector": "nope"}))),
        "objectives[0].key_results[0].source.connector",
        "unknown connector 'nope'",
    ),
    (
        "unknown connector type",
        document(connectors={"people": {"type": "carrier_pigeon"}}),
        "connectors.people.type",
        "unknown connector type 'carrier_pigeon'",
    ),
    (
        "source query missing its required field",
        document(
            objective(key_result(source={"connector": "api", "jsonpath": "$.p99"})),
            connectors={"api": {"type": "http_json"}},
        ),
        "objectives[0].key_results[0].source.url",
        "required",
    ),
    (
        "bad duration in every",
        document(objective(key_result(every="15x"))),
        "objectives[0].key_results[0].every",
        "not a duration",
    ),
    (
        "fractional duration in every",
        document(objective(key_result(every="1.5h"))),
        "objectives[0].key_results[0].every",
        "not a duration",
    ),
    (
        "zero duration in every",
        document(objective(key_result(every="0m"))),
        "objectives[0].key_results[0].every",
        "longer than zero",
    ),
    (
        "invalid cron",
        document(objective(key_result(cron="61 * * * *"))),
        "objectives[0].key_results[0].cron",
        "not a valid",
    ),
    (
        "both every and cron",
        document(objective(key_result(every="1h", cron="0 * * * *"))),
        "objectives[0].key_results[0].cron",
        "either every or cron",
    ),
    (
        "bad aggregation window",
        document(objective(key_result(aggregate={"function": "avg", "window": "a week"}))),
        "objectives[0].key_results[0].aggregate.window",
        "not a duration",
    ),
    (
        "unknown aggregate function",
        document(objective(key_result(aggregate={"function": "p99", "window": "1d"}))),
        "objectives[0].key_results[0].aggregate.function",
        "avg",
    ),
    (
        "within without band",
        document(objective(key_result(direction="within", baseline=DROP, target=DROP))),
        "objectives[0].key_results[0].band",
        "needs band",
    ),
    (
        "inverted band",
        document(
            objective(key_result(direction="within", baseline=DROP, target=DROP, band=[300, 100]))
        ),
        "objectives[0].key_results[0].band",
        "must be below",
    ),
    (
        "empty band",
        document(
            objective(key_result(direction="within", baseline=DROP, target=DROP, band=[100, 100]))
        ),
        "objectives[0].key_results[0].band",
        "must be below",
    ),
    (
        "within with a target",
        document(objective(key_result(direction="within", baseline=DROP, band=[1, 2]))),
        "objectives[0].key_results[0].target",
        "band, not target",
    ),
    (
        "band on an increase KR",
        document(objective(key_result(direction="increase", baseline=1, target=2, band=[0, 5]))),
        "objectives[0].key_results[0].band",
        "within",
    ),
    (
        "band on an at_least KR",
        document(
            objective(key_result(direction="at_least", baseline=DROP, target=99.9, band=[99, 100]))
        ),
        "objectives[0].key_results[0].band",
        "within",
    ),
    (
        "baseline on an at_most KR",
        document(objective(key_result(direction="at_most", baseline=5, target=3))),
        "objectives[0].key_results[0].direction",
        "no baseline",
    ),
    (
        "unknown parent objective",
        document(objective(parent="company")),
        "objectives[0].parent",
        "unknown parent objective 'company'",
    ),
    (
        "objective is its own parent",
        document(objective(parent="fast")),
        "objectives[0].parent",
        "own parent",
    ),
    ("quarter 5", document(objective(period="2026-Q5")), "objectives[0].period", "quarter"),
    ("year 0000", document(objective(period="0000-Q1")), "objectives[0].period", "quarter"),
    (
        "quarter without dash",
        document(objective(period="2026Q4")),
        "objectives[0].period",
        "quarter",
    ),
    (
        "period and start/end both",
        document(objective(start="2026-10-01", end="2026-12-31")),
        "objectives[0].period",
        "period or start/end",
    ),
    ("neither period nor dates", document(objective(period=DROP)), "objectives[0]", "needs period"),
    (
        "start without end",
        document(objective(period=DROP, start="2026-10-01")),
        "objectives[0]",
        "needs period",
    ),
    ("bad objective id", document(objective(id="Fast Payments")), "objectives[0].id", "pattern"),
    (
        "threshold out of range",
        document(status={"at_risk_behind": 1.5}),
        "status.at_risk_behind",
        "less than or equal to 1",
    ),
    (
        "short api token",
        document(api={"tokens": [{"name": "ci", "token": "short"}]}),
        "api.tokens[0].token",
        "at least 16",
    ),
    (
        "range upside down",
        document(objective(key_result(range=[100, 0]))),
        "objectives[0].key_results[0].range",
        "below high",
    ),
    (
        "range not a pair",
        document(objective(key_result(range=[0]))),
        "objectives[0].key_results[0].range[1]",
        "required",
    ),
    (
        "target outside range",
        document(objective(key_result(range=[300, 1000]))),
        "objectives[0].key_results[0].target",
        "outside range [300.0, 1000.0]",
    ),
    (
        "band outside range",
        document(
            objective(
                key_result(
                    direction="within", baseline=DROP, target=DROP, band=[90, 120], range=[0, 100]
                )
            )
        ),
        "objectives[0].key_results[0].band",
        "120.0 is outside range",
    ),
    (
        "key result starts after its period",
        document(objective(key_result(start="2027-01-01"))),
        "objectives[0].key_results[0].start",
        "outside its objective's period (2026-10-01 to 2026-12-31)",
    ),
    (
        "key result start not a date",
        document(objective(key_result(start="soon"))),
        "objectives[0].key_results[0].start",
        "date",
    ),
    (
        "bad scheduler duration",
        document(scheduler={"reevaluate_every": "5 minutes"}),
        "scheduler.reevaluate_every",
        "not a duration",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in BROKEN]
)
def test_broken_config_is_refused_naming_the_key_path(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """A broken config raises ConfigError with an error at exactly the offending key path."""
    problems = errors_of(raw)
    at_path = [p for p in problems if p.path == path]
    assert at_path, f"no error at {path}; got {[str(p) for p in problems]}"
    assert any(fragment.lower() in p.message.lower() for p in at_path), [str(p) for p in at_path]


PROMETHEUS = {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9090"}}


@pytest.mark.parametrize(
    ("raw", "path", "fragment"),
    [
        pytest.param(
            document(connectors={"prom": {"type": "prometheus", "urll": "http://x"}}),
            "connectors.prom.urll",
            "unknown key",
            id="settings typo",
        ),
        pytest.param(
            document(
                objective(key_result(source={"connector": "prom", "qeury": "up"})),
                connectors=PROMETHEUS,
            ),
            "objectives[0].key_results[0].source.qeury",
            "unknown key",
            id="query typo",
        ),
        pytest.param(
            document(objective(key_result(source={"connector": "prom"})), connectors=PROMETHEUS),
            "objectives[0].key_results[0].source.query",
            "required",
            id="query missing",
        ),
    ],
)
def test_prometheus_sections_are_checked_by_its_models(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """Typos and missing fields in a Prometheus section or source are refused at their path."""
    problems = [p for p in errors_of(raw) if p.path == path]
    assert any(fragment in p.message.lower() for p in problems), problems


def test_valid_documents_of_the_table_are_accepted() -> None:
    """The unmodified building blocks pass, so every refusal above is due to its one change."""
    loaded = parse_config(document())
    assert [kr.id for _, kr in loaded.key_results()] == ["p99"]
    assert loaded.warnings == []


def test_every_problem_of_one_stage_is_reported_at_once() -> None:
    """Several independent errors in the cross-key checks are all listed, not only the first."""
    raw = document(
        objective(key_result(target=400), parent="nowhere"),
        objective(key_result(id="p50", every="1h", cron="0 * * * *"), id="fast", title="Again"),
    )
    paths = {p.path for p in errors_of(raw)}
    assert {
        "objectives[0].key_results[0].target",
        "objectives[0].parent",
        "objectives[1].id",
        "objectives[1].key_results[0].cron",
    } <= paths


def test_shape_errors_do_not_hide_connector_and_query_errors() -> None:
    """A typo in an objective and a typo in a connector section are reported in one run."""
    raw = document(
        objective(key_result(source={"connector": "people", "query": "up"}), tittle="x"),
        connectors={"people": {"type": "manual", "url": "http://x"}},
    )
    paths = {p.path for p in errors_of(raw)}
    assert {
        "objectives[0].tittle",
        "connectors.people.url",
        "objectives[0].key_results[0].source.query",
    } <= paths


def test_range_and_start_inside_the_period_are_accepted() -> None:
    """A Key Result with its own start inside the period and a range holding its numbers loads."""
    loaded = parse_config(document(objective(key_result(start="2026-11-15", range=[0, 1000]))))
    ((_, kr),) = loaded.key_results()
    assert kr.range == (0.0, 1000.0)
    assert kr.start_ts == int(datetime(2026, 11, 15, tzinfo=UTC).timestamp())


def test_relative_target_from_a_zero_baseline_is_refused() -> None:
    """`baseline = 0` with `target = "+20%"` makes target equal baseline, which is an error."""
    problems = errors_of(
        document(objective(key_result(direction="increase", baseline=0, target="+20%")))
    )
    assert any(p.path == "objectives[0].key_results[0].target" for p in problems)


@pytest.mark.parametrize("direction", ["at_least", "at_most"])
def test_one_sided_band_without_threshold_is_refused(direction: str) -> None:
    """An at_least or at_most KR with a source but no target has no threshold: refuse it."""
    problems = errors_of(
        document(objective(key_result(direction=direction, baseline=DROP, target=DROP)))
    )
    assert any(p.path.startswith("objectives[0].key_results[0]") for p in problems)


# ---- interpolation: ${ENV}, $${escape} and *_file -------------------------------------


def test_env_variable_is_interpolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """`${VAR}` inside any string is replaced by the environment variable's value."""
    monkeypatch.setenv("KRT_TEST_DB", "postgresql://db.internal/okr")
    loaded = parse_config(document(database={"url": "${KRT_TEST_DB}"}))
    assert loaded.config.database.url == "postgresql://db.internal/okr"


def test_missing_env_variable_is_an_error_at_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset `${VAR}` is refused, naming the key that references it and the variable."""
    monkeypatch.delenv("KRT_TEST_UNSET", raising=False)
    raw = document(objective(key_result(title="Latency ${KRT_TEST_UNSET}")))
    problems = errors_of(raw)
    assert [(p.path, p.message) for p in problems] == [
        ("objectives[0].key_results[0].title", "environment variable KRT_TEST_UNSET is not set")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$${KRT_TEST_SET}", "${KRT_TEST_SET}"),
        ("a $${KRT_TEST_UNSET} b", "a ${KRT_TEST_UNSET} b"),
        ("${KRT_TEST_SET} and $${KRT_TEST_SET}", "value and ${KRT_TEST_SET}"),
        ("cost in $$ stays", "cost in $$ stays"),
    ],
)
def test_double_dollar_escapes_to_a_literal_reference(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    """`$${X}` becomes the literal text `${X}`, set or not, without an error."""
    monkeypatch.setenv("KRT_TEST_SET", "value")
    monkeypatch.delenv("KRT_TEST_UNSET", raising=False)
    loaded = parse_config(document(objective(description=text)))
    assert loaded.config.objectives[0].description == expected


def test_file_suffix_reads_the_secret_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`token_file` (its path interpolated) is read, stripped and held as a SecretStr `token`."""
    (tmp_path / "ci.token").write_text("s3cret-token-0123456789\n", encoding="utf-8")
    monkeypatch.setenv("KRT_TEST_SECRETS", str(tmp_path))
    raw = document(api={"tokens": [{"name": "ci", "token_file": "${KRT_TEST_SECRETS}/ci.token"}]})
    token = parse_config(raw).config.api.tokens[0].token
    assert token.get_secret_value() == "s3cret-token-0123456789"
    assert "s3cret" not in repr(token)


def test_missing_secret_file_is_an_error_at_its_key(tmp_path: Path) -> None:
    """A `*_file` that cannot be read is refused at the `*_file` key, naming the file."""
    missing = tmp_path / "nope.token"
    problems = errors_of(document(api={"tokens": [{"name": "ci", "token_file": str(missing)}]}))
    at_file = [p for p in problems if p.path == "api.tokens[0].token_file"]
    assert len(at_file) == 1 and str(missing) in at_file[0].message


def test_value_and_file_variant_together_is_an_error(tmp_path: Path) -> None:
    """Giving both `token` and `token_file` is refused at `token_file`."""
    secret = tmp_path / "ci.token"
    secret.write_text("s3cret-token-0123456789", encoding="utf-8")
    raw = document(api={"tokens": [{"name": "ci", "token": "x" * 20, "token_file": str(secret)}]})
    problems = errors_of(raw)
    assert [(p.path, p.message) for p in problems] == [
        ("api.tokens[0].token_file", "give either token or token_file")
    ]


def test_secret_from_a_file_never_appears_in_errors(tmp_path: Path) -> None:
    """A secret that fails validation (too short) is not repeated in the error text."""
    secret = tmp_path / "ci.token"
    secret.write_text("hunter2", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_config(document(api={"tokens": [{"name": "ci", "token_file": str(secret)}]}))
    assert "api.tokens[0].token" in str(caught.value)
    assert "hunter2" not in str(caught.value)


# ---- warnings ---------------------------------------------------------------------------


def _objectives(count: int) -> list[dict[str, Any]]:
    return [
        objective(
            *[key_result(id=f"kr{i}-{j}") for j in range(3)], id=f"obj{i}", title=f"Objective {i}"
        )
        for i in range(count)
    ]


def _three(first: dict[str, Any]) -> dict[str, Any]:
    """Return an objective holding `first` and two plain Key Results (3 is the advised least)."""
    return objective(first, key_result(id="kr-b"), key_result(id="kr-c"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(document(*_objectives(5)), [], id="five objectives"),
        pytest.param(document(*_objectives(6)), [("objectives", "6 objectives")], id="six"),
        pytest.param(
            document(objective(*[key_result(id=f"kr{i}") for i in range(5)])), [], id="five krs"
        ),
        pytest.param(
            document(objective(*[key_result(id=f"kr{i}") for i in range(6)])),
            [("objectives[0].key_results", "6 Key Results")],
            id="six krs",
        ),
        pytest.param(
            document(objective(key_result())),
            [("objectives[0].key_results", "1 Key Result(s); give 3 to 5")],
            id="one kr",
        ),
        pytest.param(
            document(_three(key_result(source=DROP, target=DROP, baseline=DROP))),
            [("objectives[0].key_results[0]", "neither a data source nor a target")],
            id="no source no target",
        ),
        pytest.param(document(_three(key_result(source=DROP))), [], id="target without source"),
    ],
)
def test_team_practice_gives_warnings_not_errors(
    raw: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Too many objectives, too few or many KRs, or a KR that cannot move: a warning at its path."""
    loaded = parse_config(raw, lint=True)
    assert all(w.severity == "warning" for w in loaded.warnings)
    got = [(w.path, w.message) for w in loaded.warnings]
    assert len(got) == len(expected), got
    for (path, message), (want_path, fragment) in zip(got, expected, strict=True):
        assert path == want_path and fragment in message


# ---- period bounds ----------------------------------------------------------------------


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "start", "end"),
    [
        ({"period": "2026-Q1"}, _utc(2026, 1, 1), _utc(2026, 4, 1)),
        ({"period": "2026-Q2"}, _utc(2026, 4, 1), _utc(2026, 7, 1)),
        ({"period": "2026-Q3"}, _utc(2026, 7, 1), _utc(2026, 10, 1)),
        ({"period": "2026-Q4"}, _utc(2026, 10, 1), _utc(2027, 1, 1)),
        (
            {"period": DROP, "start": "2026-03-01", "end": "2026-03-31"},
            _utc(2026, 3, 1),
            _utc(2026, 4, 1),
        ),
        (
            {"period": DROP, "start": "2026-12-15", "end": "2026-12-31"},
            _utc(2026, 12, 15),
            _utc(2027, 1, 1),
        ),
        (
            {"period": DROP, "start": "2026-02-28", "end": "2026-02-28"},
            _utc(2026, 2, 28),
            _utc(2026, 3, 1),
        ),
    ],
)
def test_period_bounds_are_half_open_utc(
    fields: dict[str, Any], start: datetime, end: datetime
) -> None:
    """A quarter or start/end becomes [first day, day after the last day) in UTC."""
    loaded = parse_config(document(objective(**fields)))
    assert loaded.config.objectives[0].period_bounds() == (start, end)


# ---- files and the real CLI -------------------------------------------------------------

BROKEN_TOML = """
[connectors.people]
type = "manual"

[[objectives]]
id = "fast"
title = "Payments are fast"
period = "2026-Q4"

[[objectives.key_results]]
id = "p99"
title = "P99"
direction = "decrease"
baseline = 400
target = 280
source = { connector = "people" }

[[objectives]]
id = "reliable"
title = "Payments are reliable"
period = "2026-Q4"

[[objectives.key_results]]
id = "avail"
title = "Availability"
direction = "increase"
baseline = 99.5
target = 99.5
source = { connector = "people" }
"""

WARNING_TOML = """
[[objectives]]
id = "fast"
title = "Payments are fast"
period = "2026-Q4"

[[objectives.key_results]]
id = "p99"
title = "P99"
direction = "decrease"

[lint]
key_results_per_objective = false
"""


def krtracker(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `krtracker` command and capture its output."""
    exe = shutil.which("krtracker") or shutil.which(
        "krtracker", path=str(Path(sys.executable).parent)
    )
    command = [exe] if exe else [sys.executable, "-c", "from app.cli import main; main()"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_load_config_reports_the_path_from_a_file(tmp_path: Path) -> None:
    """`load_config` refuses a TOML file with the KR path of the error."""
    path = tmp_path / "okrs.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.path for p in caught.value.problems] == ["objectives[1].key_results[0].target"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[[objectives]\nid = 1", "not valid TOML"), (None, "cannot read")],
)
def test_unreadable_or_malformed_file_is_refused(
    tmp_path: Path, text: str | None, fragment: str
) -> None:
    """A missing file or broken TOML raises ConfigError, not an OSError or a parser error."""
    path = tmp_path / "okrs.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert fragment in str(caught.value)


def test_cli_validate_exits_2_and_prints_the_key_path(tmp_path: Path) -> None:
    """`krtracker validate` on a broken file exits 2 and prints the error with its key path."""
    path = tmp_path / "okrs.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    result = krtracker("validate", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "error: objectives[1].key_results[0].target: target equals baseline" in output


def test_cli_validate_exits_0_and_prints_warnings(tmp_path: Path) -> None:
    """`krtracker validate` on a file with only warnings exits 0 and prints each warning."""
    path = tmp_path / "okrs.toml"
    path.write_text(WARNING_TOML, encoding="utf-8")
    result = krtracker("validate", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning: objectives[0].key_results[0]: has neither a data source" in output
    assert "1 warning(s)" in output


def test_cli_prints_messages_with_brackets_verbatim(tmp_path: Path) -> None:
    """A message containing `[low, high]` is printed as written, not parsed as rich markup."""
    path = tmp_path / "okrs.toml"
    path.write_text(
        BROKEN_TOML.replace(
            'direction = "increase"\nbaseline = 99.5\ntarget = 99.5', 'direction = "within"'
        ),
        encoding="utf-8",
    )
    result = krtracker("validate", str(path))
    assert result.returncode == 2
    assert "needs band = [low, high]" in result.stdout + result.stderr


def test_loaded_config_resolves_connectors_and_queries() -> None:
    """An accepted config carries the built connector and each sourced KR's validated query."""
    loaded: LoadedConfig = parse_config(document())
    assert set(loaded.connectors) == {"people"}
    assert loaded.connectors["people"].type == "manual"
    assert set(loaded.queries) == {"p99"}


# ---- what would fail at run time -----------------------------------------------------------


def warnings_of(raw: dict[str, Any]) -> list[Problem]:
    """Return the warnings of a config that parse_config accepts."""
    return parse_config(raw).warnings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user:hunter2@db:3306/okr", "SQLite or PostgreSQL"),
        ("postgresql+pg8000://user:hunter2@db/okr", "driver is not installed"),
        ("oracle://user:hunter2@db/okr", "SQLite or PostgreSQL"),
        ("nosuchdb://user:hunter2@db/okr", "SQLite or PostgreSQL"),
        ("not a url", "not a database URL"),
    ],
)
def test_database_url_that_cannot_be_opened_is_an_error(
    url: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database the installed drivers cannot open is refused at database.url, no password."""
    monkeypatch.delenv("KRTRACKER_DATABASE_URL", raising=False)
    problems = errors_of(document(database={"url": url}))
    assert [p.path for p in problems] == ["database.url"]
    assert expected in problems[0].message and "hunter2" not in problems[0].message


@pytest.mark.parametrize(
    "url", ["sqlite:///k.db", "postgresql://u:p@db:5432/k", "postgresql+psycopg://db/k"]
)
def test_supported_database_urls_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite and PostgreSQL (psycopg 3, installed with krtracker) pass."""
    monkeypatch.delenv("KRTRACKER_DATABASE_URL", raising=False)
    parse_config(document(database={"url": url}))


SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("url", "allow", "warned"),
    [
        ("http://127.0.0.1:9093", [], True),
        ("http://localhost:9093/hook", [], True),
        ("http://10.1.2.3/hook", [], True),
        ("http://[::1]:8080/hook", [], True),
        ("http://169.254.169.254/latest", [], True),
        ("http://10.1.2.3/hook", ["10.0.0.0/8"], False),
        ("http://localhost:9093/hook", ["localhost"], False),
        ("https://8.8.8.8/hook", [], False),
    ],
)
def test_private_webhook_target_is_a_warning_unless_allowed(
    url: str, allow: list[str], warned: bool
) -> None:
    """Every delivery to a private host would be refused: validate says so beforehand."""
    webhook = {"name": "hook", "url": url, "secret": SECRET}
    found = warnings_of(document(webhooks=[webhook], alerts={"allow_private_targets": allow}))
    paths = [w.path for w in found if "allow_private_targets" in w.message]
    assert paths == (["webhooks[0].url"] if warned else [])


def test_webhook_secret_without_whsec_prefix_is_a_warning() -> None:
    """A base64 secret without "whsec_" works but is not the Standard Webhooks form: warn."""
    webhook = {"name": "hook", "url": "https://8.8.8.8/h", "secret": SECRET.removeprefix("whsec_")}
    found = warnings_of(document(webhooks=[webhook]))
    assert [w.path for w in found] == ["webhooks[0].secret"]
    assert "whsec_" in found[0].message and "MfKQ9r8" not in found[0].message


def test_sampling_faster_than_the_source_serves_is_a_warning() -> None:
    """Each connector declares its minimum interval; a shorter `every` is warned about."""
    connectors = {
        "people": {"type": "manual"},
        "prom": {"type": "prometheus", "url": "http://prometheus:9090"},
    }
    fast = key_result(every="5s", source={"connector": "prom", "query": "up"})
    found = warnings_of(document(objective(fast), connectors=connectors))
    assert [w.path for w in found] == ["objectives[0].key_results[0].every"]
    assert "10 s" in found[0].message and "prometheus" in found[0].message
    ok = key_result(every="10s", source={"connector": "prom", "query": "up"})
    assert warnings_of(document(objective(ok), connectors=connectors)) == []
