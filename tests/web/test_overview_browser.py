"""The overview in Chromium against `krtracker serve` on config.example.toml."""

from __future__ import annotations

import time
import tomllib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.web.templating import STATUS_WORDS
from tests.conftest import REPO_ROOT
from tests.support.waiting import wait_until
from tests.web.support import Served


def _page_snapshot(page: Any) -> dict[str, dict[str, str | None]]:
    cards = page.locator("article.kr")
    out = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        out[card.get_attribute("data-kr")] = {
            "status": card.get_attribute("data-status"),
            "word": card.locator(".status").inner_text().strip(),
            "reason": card.locator(".reason").inner_text().strip(),
            "value": card.locator(".current").get_attribute("data-value"),
            "title": card.locator(".kr-title").inner_text().strip(),
        }
    return out


def _api_snapshot(served: Served) -> dict[str, dict[str, str | None]]:
    out = {}
    for objective in served.api("/objectives"):
        for kr in objective["key_results"]:
            value = kr["current"]["value"]
            out[kr["id"]] = {
                "status": kr["status"],
                "word": STATUS_WORDS[kr["status"]],
                "reason": kr["status_reason"],
                "value": "" if value is None else str(value),
                "title": kr["title"],
            }
    return out


def test_overview_lists_the_examples_okrs_as_the_api_does(
    example_server: Served, page: Any
) -> None:
    """Every objective and Key Result of the example is shown with the API's status and value."""
    wait_until(
        lambda: example_server.api("/key-results/test-coverage")["current"]["value"] is not None,
        what="the coverage example to be sampled",
    )
    # The sampler may move a status between the two reads (a slow unreachable source finishes
    # its first attempt late): read both again, a second apart, until they agree.
    for _ in range(20):
        page.goto(f"{example_server.base}/")
        shown, stated = _page_snapshot(page), _api_snapshot(example_server)
        if shown == stated:
            break
        time.sleep(1)
    assert shown == stated
    declared = tomllib.loads((REPO_ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert len(shown) == sum(len(o["key_results"]) for o in declared["objectives"])
    headings = page.locator("section.objective h2").all_inner_texts()
    # The alignment tree: Feature X's objective sits under its parent, before the next root.
    assert headings == [
        "Payments feel instant",
        "Make Feature X part of everyday work",
        "Ship with confidence",
    ]
    child = page.locator('section[data-objective="feature-x-adoption"]')
    assert child.get_attribute("data-depth") == "1"
    assert "Aligned to" in child.locator(".meta").inner_text()


def test_failing_sources_are_marked_with_their_error(example_server: Served, page: Any) -> None:
    """A Key Result whose source is down says so, with the stored error."""
    kr = wait_until(
        lambda: (
            (k := example_server.api("/key-results/payments-p99-latency"))["status"] == "error"
            and k
        ),
        what="the unreachable Prometheus to be recorded as an error",
    )
    page.goto(f"{example_server.base}/")
    problem = page.locator('[data-kr="payments-p99-latency"] .problem').inner_text()
    assert "Source failing" in problem and kr["last_error"] in problem


def test_a_value_posted_through_the_api_appears_without_a_reload(
    example_server: Served, page: Any
) -> None:
    """The open overview swaps in new figures by itself; the page is not reloaded."""
    page.goto(f"{example_server.base}/")
    page.evaluate("window.__notReloaded = true")
    card = page.locator('[data-kr="feature-x-satisfaction"] .current')
    before = card.get_attribute("data-value")
    value = 4.125 if before != "4.125" else 4.25
    posted = example_server.client.post(
        "/api/v1/key-results/feature-x-satisfaction/values", json={"value": value}
    )
    assert posted.status_code == 201, posted.text
    wait_until(lambda: card.get_attribute("data-value") == str(value), what="the swapped value")
    assert page.evaluate("window.__notReloaded") is True


def test_refresh_keeps_the_scroll_position(example_server: Served, page: Any) -> None:
    """A refresh swaps the content in place: the reader's scroll position stays."""
    page.set_viewport_size({"width": 390, "height": 500})
    page.goto(f"{example_server.base}/")
    page.evaluate("window.scrollTo(0, 400)")
    swapped = page.evaluate(
        """() => new Promise(done => document.body.addEventListener(
               'htmx:afterSwap', () => done(window.scrollY), {once: true}))"""
    )
    assert swapped == 400


def test_nothing_scrolls_sideways_at_390_px(example_server: Served, page: Any) -> None:
    """At a phone's width every page fits without horizontal scroll."""
    page.set_viewport_size({"width": 390, "height": 844})
    quarter = page_quarter()
    pages = ("/", "/?sort=worst", "/key-results/test-coverage", "/sign-in", "/review")
    for path in (*pages, f"/periods/{quarter}"):
        page.goto(f"{example_server.base}{path}")
        page.wait_for_load_state("load")
        width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width[0] <= width[1], (path, width)


def page_quarter() -> str:
    """Return the current calendar quarter, the example config's period."""
    today = datetime.now(ZoneInfo("UTC"))
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def test_worst_first_puts_failing_key_results_first(example_server: Served, page: Any) -> None:
    """`?sort=worst` orders by status severity (errors first, achieved last)."""
    page.goto(f"{example_server.base}/?sort=worst")
    cards = page.locator("article.kr")
    statuses = cards.evaluate_all("els => els.map(e => e.dataset.status)")
    from app.web.overview_view import SEVERITY

    assert statuses == sorted(statuses, key=lambda s: SEVERITY[s])
    assert statuses[0] == "error"


def test_times_are_shown_in_the_viewers_zone_with_utc_on_hover(
    example_server: Served, browser: Any
) -> None:
    """A `<time>` reads in the browser's time zone; its title keeps UTC."""
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    page.goto(f"{example_server.base}/")
    updated = page.locator("p.period time[data-local]").first
    assert updated.get_attribute("title").endswith("UTC")
    at = datetime.fromisoformat(updated.get_attribute("datetime").replace("Z", "+00:00"))
    shown = updated.inner_text()
    assert "UTC" not in shown and f"{at.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}" in shown
    context.close()


def test_choosing_a_team_filters_at_once(example_server: Served, page: Any) -> None:
    """With JavaScript, picking a team applies the filter without pressing Apply."""
    page.goto(f"{example_server.base}/")
    page.get_by_label("Team").select_option("platform")
    page.wait_for_url("**team=platform**")
    titles = page.locator("section.objective h2").all_inner_texts()
    assert titles == ["Ship with confidence"]
