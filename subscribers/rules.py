"""The rules a subscription must follow, in one place for the forms and the services.

Each check raises django.core.exceptions.ValidationError with the message a person sees
next to the field, and returns the cleaned value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.search.query import MAX_QUERY_LENGTH, QueryError, parse
from subscribers.addresses import AddressError, domain_allowed, normalize_email
from subscribers.models import MAX_FILTERS, MAX_PAPERS, MIN_PAPERS, Subscriber, TopicFilter

MAX_NAME_LENGTH = TopicFilter._meta.get_field("name").max_length


@dataclass(frozen=True)
class FilterInput:
    """One topic filter as a person wrote it: a name and a query."""

    name: str
    query: str
    is_active: bool = True


@cache
def timezone_names() -> tuple[str, ...]:
    # "localtime" and the like are files in the tz database, not zones a person picks.
    names = zoneinfo.available_timezones() - {"localtime", "Factory"}
    return tuple(sorted(names))


def check_email(value: str) -> str:
    try:
        return normalize_email(value)
    except AddressError as exc:
        raise ValidationError(exc.message, code="email") from None


def signup_domains_text() -> str:
    """The allowed domains as the pages name them: "uni.edu or *.lab.org"."""
    entries = [entry.strip() for entry in settings.SIGNUP_ALLOWED_DOMAINS if entry.strip()]
    return ", ".join(entries[:-1]) + (" or " if len(entries) > 1 else "") + (entries[-1] if entries else "")


def check_signup_domain(email: str, *, signup: bool = True) -> str:
    """An address (normalised) at a domain SIGNUP_ALLOWED_DOMAINS allows (empty: any).

    The message names the domains, never the address's state: it is the same whether the
    address has a subscription or not. A sign-up is pointed to invitations; an address
    change (`signup=False`) is not, as invitations only open the sign-up form."""
    if not domain_allowed(email, settings.SIGNUP_ALLOWED_DOMAINS):
        after = (
            "For another address, ask the people who run this service for an invitation link."
            if signup
            else "Choose an address there."
        )
        raise ValidationError(
            f"Subscriptions here are for addresses at {signup_domains_text()}. {after}", code="domain"
        )
    return email


def check_timezone(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("Choose your time zone.", code="timezone")
    if value not in timezone_names():
        raise ValidationError(
            "Unknown time zone: choose one from the list, such as Europe/Berlin or UTC.", code="timezone"
        )
    return value


def check_send_hour(value: int) -> int:
    if value is None or not 0 <= value <= 23:
        raise ValidationError("Choose an hour from 0 to 23.", code="send_hour")
    return value


def check_frequency(value: str) -> str:
    if value not in Subscriber.Frequency.values:
        raise ValidationError("Choose daily or weekly.", code="frequency")
    return value


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_week_day(value: int) -> int:
    if value is None or not 0 <= value <= 6:
        raise ValidationError("Choose a day of the week for weekly digests.", code="week_day")
    return value


# How far ahead a pause may end: a longer break is an unsubscribe (and a subscribe again).
MAX_PAUSE_DAYS = 366


def check_pause_until(value: dt.date | None, *, today: dt.date) -> dt.date:
    """The date digests resume on: after `today` (the subscriber's local date) and within
    a year."""
    if value is None:
        raise ValidationError("Choose the date your digests should start again.", code="pause_until")
    if value <= today:
        raise ValidationError(
            f"Choose a date after today ({today:%-d %B %Y}): digests start again on the date you choose.",
            code="pause_until",
        )
    if value > today + dt.timedelta(days=MAX_PAUSE_DAYS):
        raise ValidationError(
            "A pause can last at most a year. To stop for longer, unsubscribe; "
            "you can sign up again any time.",
            code="pause_until",
        )
    return value


def check_max_papers(value: int) -> int:
    if value is None or not MIN_PAPERS <= value <= MAX_PAPERS:
        raise ValidationError(
            f"Choose between {MIN_PAPERS} and {MAX_PAPERS} papers per digest.", code="max_papers"
        )
    return value


def _control_character(value: str) -> int | None:
    """The column of the first control character other than a space, tab or line break
    (NUL and the like: PostgreSQL cannot even store a NUL), or None."""
    for column, ch in enumerate(value, start=1):
        if unicodedata.category(ch) == "Cc" and not ch.isspace():
            return column
    return None


# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): a name
# shown in a page or an email could reverse the text around it ("moc.elpmaxe" read as a
# link). Names are plain labels, so these are dropped rather than refused.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def check_filter_name(value: str) -> str:
    if (column := _control_character(value or "")) is not None:
        raise ValidationError(f"A name cannot contain control characters (column {column}).", code="name")
    value = " ".join(_BIDI_CONTROLS.sub("", value or "").split())
    if len(value) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"Keep the name to {MAX_NAME_LENGTH} characters (it has {len(value)}).", code="name"
        )
    return value


def check_query(value: str) -> str:
    """A valid query, stripped; the parser's message and column otherwise. Leading spaces
    stay while parsing, so the column counts the characters the person sees."""
    typed = (value or "").rstrip()
    if not typed.strip():
        raise ValidationError(
            "Write a query for this filter, e.g. ti:transformer AND cat:cs.CL.", code="query"
        )
    if (column := _control_character(typed)) is not None:
        raise ValidationError(f"A query cannot contain control characters (column {column}).", code="query")
    if len(typed.strip()) > MAX_QUERY_LENGTH:
        raise ValidationError(
            f"A query can be at most {MAX_QUERY_LENGTH} characters long (this one has {len(typed.strip())}).",
            code="query",
        )
    try:
        parse(typed)
    except QueryError as exc:
        raise ValidationError(query_error_message(exc), code="query") from None
    return typed.strip()


def query_error_message(error: QueryError) -> str:
    """The parser's message, as a sentence that says where: "Unclosed ( (column 4)"."""
    return f"{error.message[:1].upper()}{error.message[1:]} (column {error.column})"


def default_filter_name(query: str) -> str:
    """A name for a filter whose author gave none: the start of its query."""
    query = " ".join(query.split())
    return query if len(query) <= 60 else query[:59] + "…"


def check_filters(filters: list[FilterInput], *, trending: bool = False) -> list[FilterInput]:
    """Clean every filter; between one and MAX_FILTERS of them, or none for a subscriber
    who gets the day's trending papers (`trending`)."""
    if not filters and not trending:
        raise ValidationError(
            "Add at least one filter: a query that describes papers you want.", code="filters"
        )
    if len(filters) > MAX_FILTERS:
        raise ValidationError(
            f"You can have at most {MAX_FILTERS} filters (there are {len(filters)}).", code="filters"
        )
    cleaned = []
    for item in filters:
        query = check_query(item.query)
        name = check_filter_name(item.name) or default_filter_name(query)
        cleaned.append(FilterInput(name=name, query=query, is_active=item.is_active))
    return cleaned
