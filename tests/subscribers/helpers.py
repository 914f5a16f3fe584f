"""Building form posts the way a browser sends them."""

from __future__ import annotations

DEFAULT_FILTERS = [("Sparse attention", 'abs:"sparse attention"')]


def signup_data(email: str = "ada@example.org", filters=None, **fields) -> dict[str, str]:
    """The POST body of the sign-up form with these filters [(name, query), ...]."""
    data = {
        "action": "subscribe",
        "email": email,
        "frequency": "daily",
        "send_hour": "7",
        "timezone": "Europe/Berlin",
        "max_papers": "20",
    }
    data.update(filter_data(DEFAULT_FILTERS if filters is None else filters))
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = str(value)
    return data


def filter_data(filters, total: int | None = None) -> dict[str, str]:
    data = {
        "filters-TOTAL_FORMS": str(len(filters) if total is None else total),
        "filters-INITIAL_FORMS": "0",
        "filters-MIN_NUM_FORMS": "0",
        "filters-MAX_NUM_FORMS": "10",
    }
    for i, (name, query) in enumerate(filters):
        data[f"filters-{i}-name"] = name
        data[f"filters-{i}-query"] = query
    return data


def preferences_data(filters, **fields) -> dict[str, str]:
    """The POST body of the manage page's "save" with these filters."""
    data = signup_data(filters=filters, **fields)
    data.pop("email")
    data["action"] = "save"
    return data
