"""CalDAV: a thin client over the caldav library and pure busy-time extraction from its calendar data."""
