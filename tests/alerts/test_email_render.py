"""Email bodies of the events that are not alerts: a closed period reads as its scores."""

from __future__ import annotations

from app.alerts.email_render import email_message
from app.core.domain import PERIOD_CLOSED


def test_period_closed_email_lists_each_objectives_final_scores() -> None:
    """An `okr.period_closed` event mailed to an email webhook names every score and grade."""
    payload = {
        "type": PERIOD_CLOSED,
        "timestamp": "2027-01-01T00:05:00Z",
        "data": {
            "period": "2026-Q4",
            "objectives": [
                {
                    "id": "quality",
                    "title": "Ship with confidence",
                    "score": 0.72,
                    "grade": "delivered",
                    "key_results": [
                        {
                            "id": "cov",
                            "title": "Coverage to 85%",
                            "score": 0.72,
                            "grade": "delivered",
                        },
                        {"id": "ux", "title": "Survey <4.5>", "score": None, "grade": "not scored"},
                    ],
                }
            ],
            "report": "http://localhost:8080/api/v1/periods/2026-Q4/report?format=html",
        },
    }
    message = email_message(payload, event_id="evt_1", sender="okr@example.com", to=["a@b.c"])
    assert message["Subject"] == "Period 2026-Q4 closed: final scores"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Ship with confidence: 0.72 (delivered)" in text
    assert "Coverage to 85%: 0.72 (delivered)" in text and "not scored" in text
    assert "Survey &lt;4.5&gt;" in html and "report?format=html" in html
