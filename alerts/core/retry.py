"""How long a server asks us to wait: the Retry-After header (RFC 9110, section 10.2.3).

Read the same way for the paper sources (arXiv, Hugging Face) and for the ESP.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from email.utils import parsedate_to_datetime


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value: a number of seconds or an HTTP date.

    A date in the past, or a negative number, means "now" (0.0); a value that is neither a
    finite number nor a date is ignored (None), so a garbled header never blocks a retry.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": the date is in UTC
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None
