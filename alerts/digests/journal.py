"""The send journal: what a worker handed to the ESP, noted the moment it happens.

A chunk of digests is claimed and finalised in a few bulk statements, so the database
learns "sent" only at the end of a chunk. If the worker dies in between, the journal says
which of its claimed digests the ESP accepted (never send those again) and which it never
got to (send those). The journal lives in Redis, shared by every worker on every host; when
Redis is not configured, or does not answer, the digest row itself is written instead
(one UPDATE per message: slower, as safe).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings

from alerts.models import Digest

log = logging.getLogger(__name__)

KEY = "paper-alerts:send-journal"
IN_FLIGHT = "in-flight"


class SendJournal:
    def __init__(self) -> None:
        self._redis = None
        if settings.REDIS_URL:
            import redis

            self._redis = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
            )

    def _try(self, call) -> bool:
        if self._redis is None:
            return False
        try:
            call()
            return True
        except Exception as exc:
            log.warning("send journal unavailable (%s); writing to the database instead", exc)
            return False

    def begin(self, digest_id: int) -> None:
        """About to hand digest `digest_id` to the ESP."""
        if not self._try(lambda: self._redis.hset(KEY, str(digest_id), IN_FLIGHT)):
            self._note_in_database(digest_id, IN_FLIGHT)

    def accepted(self, digest_id: int, message_id: str, next_id: int | None = None) -> None:
        """The ESP accepted it as `message_id`; and, in the same write, digest `next_id` is
        the next to go (as `begin`): one round trip per message instead of two."""
        fields = {str(digest_id): message_id}
        if next_id is not None:
            fields[str(next_id)] = IN_FLIGHT
        if not self._try(lambda: self._redis.hset(KEY, mapping=fields)):
            self._note_in_database(digest_id, message_id)
            if next_id is not None:
                self._note_in_database(next_id, IN_FLIGHT)

    @staticmethod
    def _note_in_database(digest_id: int, value: str) -> None:
        # Without Redis the row keeps the note (the chunk's final write replaces it), so
        # that recovery still tells "in flight" (outcome unknown) from "never handed over".
        Digest.objects.filter(pk=digest_id).update(esp_message_id=value)

    def lookup(self, digest_ids: Iterable[int]) -> dict[int, str]:
        """{digest id: ESP message id, or IN_FLIGHT} for the digests the journal knows."""
        ids = [int(i) for i in digest_ids]
        found: dict[int, str] = {}
        if self._redis is not None and ids:
            try:
                values = self._redis.hmget(KEY, [str(i) for i in ids])
                found = {i: v for i, v in zip(ids, values, strict=True) if v}
            except Exception as exc:
                log.warning("send journal unavailable for lookup (%s)", exc)
        # Messages noted in the database (the fallback) count too.
        for pk, message_id in (
            Digest.objects.filter(pk__in=ids).exclude(esp_message_id="").values_list("pk", "esp_message_id")
        ):
            found.setdefault(pk, message_id)
            if found[pk] == IN_FLIGHT:
                found[pk] = message_id
        return found

    def forget(self, digest_ids: Iterable[int]) -> None:
        """These digests' fate is in the database now."""
        ids = [str(i) for i in digest_ids]
        if ids:
            self._try(lambda: self._redis.hdel(KEY, *ids))
