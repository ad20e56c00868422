"""RFC 3339 datetimes (and the looser forms Qdrant accepts) as microseconds since the epoch.

Accepted: `2023-02-08T10:49:00Z`, `2023-02-08T10:49:00.123+01:00`, `2023-02-08 10:49:00`,
`2023-02-08T10:49`, `2023-02-08`. No offset means UTC. Written by hand rather than with
`datetime.fromisoformat`, which rejects "Z" before Python 3.11. Instants are integers so
that ranges compare exactly, in the scan and in the index alike.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_FORMAT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


@lru_cache(maxsize=65536)  # scans parse the same stored strings over and over
def parse_datetime(text: str) -> int | None:
    """Microseconds since 1970-01-01 UTC, or None when `text` is not a datetime."""
    m = _FORMAT.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = m.groups()
    try:
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        tz = timezone(-offset if sign == "-" else offset)
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:  # 2023-02-30, 25:00, offsets of a day or more
        return None
    return (moment - _EPOCH) // _MICROSECOND


def to_micros(value: object) -> int | None:
    """A datetime bound as a filter gives it: a string, or a datetime / date object (what
    pydantic's model_dump() leaves in a DatetimeRange). Naive values are UTC."""
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return (aware - _EPOCH) // _MICROSECOND
    if isinstance(value, date):
        return to_micros(datetime(value.year, value.month, value.day))
    return None
