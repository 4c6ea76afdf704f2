"""Checks across keys: ids, periods, parents, targets against baselines, bands and ranges.

Each broken config is refused with an error at its key path, and every error of that stage
is listed at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.config_documents import (
    DROP,
    assert_refused_at,
    document,
    errors_of,
    key_result,
    objective,
)


def two_objectives(second_kr: dict[str, Any]) -> dict[str, Any]:
    """Return a config whose second objective holds `second_kr` (to pin `objectives[1]`)."""
    return document(objective(), objective(second_kr, id="reliable", title="Reliable"))


CROSS_KEY_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, document, expected key path, fragment of the message)
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
        "both every and cron",
        document(objective(key_result(every="1h", cron="0 * * * *"))),
        "objectives[0].key_results[0].cron",
        "either every or cron",
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
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in CROSS_KEY_ERRORS]
)
def test_cross_key_error_is_refused_naming_the_key_path(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """A config the checks across keys refuse has an error at exactly the offending key path."""
    assert_refused_at(raw, path, fragment)


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
