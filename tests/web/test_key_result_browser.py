"""The Key Result page in Chromium: the chart's data, and writing from the browser."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.web.support import WRITE_TOKEN, Served

KR = "feature-x-satisfaction"


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _sign_in(page: Any, served: Served, then: str) -> None:
    page.goto(f"{served.base}/sign-in?next={then}")
    page.get_by_label("API token").fill(WRITE_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.base}{then}")


def test_the_chart_is_handed_the_apis_figures(example_server: Served, page: Any) -> None:
    """Points, target, baseline, expected pace and forecast equal what the API says."""
    for days_ago, value in ((20, 3.9), (10, 4.0), (1, 4.05)):
        at = datetime.fromtimestamp(time.time() - days_ago * 86400, UTC)
        posted = example_server.client.post(
            f"/api/v1/key-results/{KR}/values", json={"value": value, "at": at.isoformat()}
        )
        assert posted.status_code == 201, posted.text
    page.goto(f"{example_server.base}/key-results/{KR}")
    data = json.loads(page.locator("#chart-data").text_content())
    detail = example_server.api(f"/key-results/{KR}")
    objective = example_server.api("/objectives/feature-x-adoption")
    start, end = _ts(objective["period_start"]), _ts(objective["period_end"])
    samples = example_server.api(
        f"/key-results/{KR}/samples?since={objective['period_start']}&max_points=500"
    )["points"]
    assert data["points"]["t"] == [_ts(p["at"]) for p in samples]
    assert data["points"]["value"] == [p["value"] for p in samples]
    assert data["points"]["value"][-3:] == [3.9, 4.0, 4.05]
    assert data["target"] == detail["target"] == 4.5
    assert data["baseline"] == detail["baseline"] == 3.8
    assert data["expected"] == [[start, 3.8], [end, 4.5]]
    forecast = detail["forecast"]
    assert data["forecast"]["value"] == forecast["value"]
    assert (data["forecast"]["low"], data["forecast"]["high"]) == (
        forecast["low"],
        forecast["high"],
    )
    assert data["forecast"]["at_ts"] == _ts(forecast["at"])
    drawn = page.evaluate(
        """() => ({values: window.krtracker.chart.data[1].filter(v => v !== null),
                   measured: performance.getEntriesByName('krtracker-chart').length})"""
    )
    assert drawn == {"values": data["points"]["value"], "measured": 1}


def test_signing_in_and_checking_in_stores_a_check_in(example_server: Served, page: Any) -> None:
    """A check-in sent from the page is stored with the token's name as its author."""
    _sign_in(page, example_server, f"/key-results/{KR}")
    page.get_by_label("Confidence").fill("0.65")
    page.get_by_label("Note", exact=True).fill("Survey panel doubled this week.")
    page.get_by_role("button", name="Check in as team-lead").click()
    page.get_by_text("Check-in saved.").wait_for()
    newest = example_server.api(f"/key-results/{KR}/check-ins")[0]
    assert (newest["confidence"], newest["note"], newest["author"]) == (
        0.65,
        "Survey panel doubled this week.",
        "team-lead",
    )
    assert (
        "Survey panel doubled this week." in page.locator("#check-ins").locator("..").inner_text()
    )


def test_a_value_entered_on_the_page_becomes_the_current_value(
    example_server: Served, page: Any
) -> None:
    """The value form of a manual Key Result records a sample, as the API's POST does."""
    _sign_in(page, example_server, f"/key-results/{KR}")
    page.get_by_label("Value (score)").fill("4.2")
    page.get_by_role("button", name="Record value").click()
    page.get_by_text("Value recorded.").wait_for()
    assert example_server.api(f"/key-results/{KR}")["current"]["value"] == 4.2


def test_check_ins_without_sign_in_or_from_another_site_are_refused(
    example_server: Served, page: Any
) -> None:
    """No session, a foreign Origin, or a missing CSRF token: refused, nothing stored."""
    before = len(example_server.api(f"/key-results/{KR}/check-ins"))
    url = f"{example_server.base}/key-results/{KR}/check-ins"
    anonymous = httpx.post(url, data={"confidence": "0.1", "note": "anonymous"})
    assert anonymous.status_code == 403
    _sign_in(page, example_server, f"/key-results/{KR}")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csrf = page.locator("#check-in-form input[name=csrf]").get_attribute("value")
    forged = httpx.post(
        url,
        data={"confidence": "0.1", "note": "forged", "csrf": csrf},
        cookies=cookies,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and "another origin" in forged.text
    cross_site = httpx.post(
        url,
        data={"confidence": "0.1", "note": "forged", "csrf": csrf},
        cookies=cookies,
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403 and "another site" in cross_site.text
    tokenless = httpx.post(
        url,
        data={"confidence": "0.1", "note": "no csrf"},
        cookies=cookies,
        headers={"Origin": example_server.base},
    )
    assert tokenless.status_code == 403 and "session token" in tokenless.text
    assert len(example_server.api(f"/key-results/{KR}/check-ins")) == before
    accepted = httpx.post(
        url,
        data={"confidence": "0.1", "note": "same origin", "csrf": csrf},
        cookies=cookies,
        headers={"Origin": example_server.base},
    )
    assert accepted.status_code == 303  # the same request from the page itself is accepted
    assert len(example_server.api(f"/key-results/{KR}/check-ins")) == before + 1


def test_an_invalid_check_in_is_explained_on_the_page(
    example_server: Served, page: Any, console_errors: list[str]
) -> None:
    """A confidence above 1 comes back as a message beside the form, never a 500."""
    _sign_in(page, example_server, f"/key-results/{KR}")
    page.locator("#confidence").evaluate("el => { el.removeAttribute('max'); el.value = '7'; }")
    page.get_by_role("button", name="Check in as team-lead").click()
    message = page.locator("#check-in-form .form-error").inner_text()
    assert "confidence" in message and "1" in message
    # Chromium logs the page's honest 422 status; that is the only console entry allowed.
    assert [e for e in console_errors if "422" not in e] == []
    console_errors.clear()


def test_pages_read_with_javascript_off(example_server: Served, browser: Any) -> None:
    """Without JavaScript the figures, the samples table and the overview are all there."""
    posted = example_server.client.post(f"/api/v1/key-results/{KR}/values", json={"value": 4.3})
    assert posted.status_code == 201, posted.text
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{example_server.base}/key-results/{KR}")
    assert page.locator(".figures .current").inner_text() == "4.3 score"
    page.locator("details.samples-table summary").click()
    assert "4.3 score" in page.locator("details.samples-table tbody tr").first.inner_text()
    assert page.locator("#chart canvas").count() == 0  # no chart, and nothing missing for it
    page.goto(f"{example_server.base}/")
    assert page.locator('[data-kr="feature-x-satisfaction"] .current').inner_text() == "4.3 score"
    context.close()


def _tab_to(page: Any, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_signing_in_and_checking_in_work_from_the_keyboard(
    example_server: Served, page: Any
) -> None:
    """Every control of the flow is reached with Tab and used with the keyboard alone."""
    page.goto(f"{example_server.base}/")
    _tab_to(page, "a.skip")
    _tab_to(page, 'a[href^="/sign-in"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign-in**")
    _tab_to(page, "#token")
    page.keyboard.type(WRITE_TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{example_server.base}/")
    page.goto(f"{example_server.base}/key-results/{KR}")
    _tab_to(page, "#confidence")
    page.keyboard.type("0.55")
    _tab_to(page, "#note")
    page.keyboard.type("typed without a mouse")
    _tab_to(page, "#check-in-form button")
    page.keyboard.press("Enter")
    page.get_by_text("Check-in saved.").wait_for()
    newest = example_server.api(f"/key-results/{KR}/check-ins")[0]
    assert (newest["confidence"], newest["note"]) == (0.55, "typed without a mouse")
