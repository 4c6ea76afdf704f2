"""The OKR rhythm: weekly digests, check-in reminders and the period-closed event."""
