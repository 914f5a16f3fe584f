"""Polite, bounded HTTP GETs for the paper sources.

- connect and read timeouts on every request, and a descriptive User-Agent;
- retries with exponential back-off on 429, 5xx, timeouts and connection errors, waiting
  at least what a Retry-After header asks;
- a minimum spacing between requests to the same host (arXiv asks for one every 3 s),
  shared by every fetcher in the process and counting retries too;
- a size limit: the body is read streamed and refused past `max_bytes`;
- an empty 200 answer is a glitch, not an empty feed (an empty feed is still a feed): it is
  retried like a 503, never read as "no papers".

Every failure that was retried is kept in `retried`, for the fetch's record.

A failure raises `FetchError`; `transient` says whether trying again later may succeed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from alerts.core import retry

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    def __init__(
        self,
        message: str,
        *,
        url: str,
        transient: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.url = url
        self.transient = transient
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait, if it did
        self.source = ""  # the paper source that was fetching, once known

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.source}: {message}" if self.source else message


@dataclass
class FetchedResponse:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class _HostSpacing:
    """When each host may next be called. Process-wide, so two fetches of one source in the
    same process (a command and a task, two pages) still keep arXiv's pace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_allowed: dict[str, float] = {}

    def reserve(self, host: str, interval: float) -> float:
        """Book the next slot for `host`; return how long to wait for it."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_allowed.get(host, now))
            self._next_allowed[host] = slot + interval
            return slot - now


_spacing = _HostSpacing()


class Fetcher:
    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        retries: int,
        backoff: float,
        max_bytes: int,
        retry_after_max: float,
        session: requests.Session | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.retry_after_max = retry_after_max
        self.session = session or requests.Session()
        self.requests_made = 0
        self.retried: list[str] = []  # what went wrong and was tried again, in order

    def get(self, url: str, *, min_interval: float = 0.0, accept: str = "*/*") -> FetchedResponse:
        """GET `url`, retrying transient failures; at least `min_interval` s between requests to its host."""
        host = urlsplit(url).netloc.lower()
        attempt = 0
        while True:
            wait = _spacing.reserve(host, min_interval)
            if wait > 0:
                time.sleep(wait)
            try:
                return self._get_once(url, accept)
            except FetchError as exc:
                if not exc.transient or attempt >= self.retries:
                    raise
                if exc.retry_after is not None and exc.retry_after > self.retry_after_max:
                    # Waiting that long here would hold a worker; a later run will try again.
                    raise FetchError(
                        f"{exc}, and it asks us to wait {exc.retry_after:.0f}s",
                        url=url,
                        transient=True,
                        status=exc.status,
                        retry_after=exc.retry_after,
                    ) from None
                attempt += 1
                self.pause_before_retry(str(exc), attempt, exc.retry_after)

    def pause_before_retry(self, problem: str, attempt: int, retry_after: float | None = None) -> None:
        """Note a failure that will be tried again, and wait the back-off (or Retry-After)."""
        delay = max(self.backoff * 2 ** (attempt - 1), retry_after or 0.0)
        self.retried.append(problem)
        logger.warning("%s; retry %d of %d in %.1fs", problem, attempt, self.retries, delay)
        time.sleep(delay)

    def _get_once(self, url: str, accept: str) -> FetchedResponse:
        self.requests_made += 1
        try:
            response = self.session.get(
                url,
                headers={"User-Agent": self.user_agent, "Accept": accept},
                # (connect, read): a host that never answers fails fast; a slow body may
                # take the read timeout between two chunks.
                timeout=(min(self.timeout, 10.0), self.timeout),
                stream=True,
                allow_redirects=True,
            )
        except requests.Timeout:
            raise FetchError(
                f"timed out after {self.timeout:g}s fetching {url}", url=url, transient=True
            ) from None
        except requests.ConnectionError as exc:
            raise FetchError(f"could not connect to {url}: {_reason(exc)}", url=url, transient=True) from None
        except requests.RequestException as exc:
            raise FetchError(f"could not fetch {url}: {exc}", url=url, transient=False) from None
        with response:
            if response.status_code != 200:
                self._raise_for_status(url, response)
            body = self._read_limited(url, response)
            if not body.strip():
                raise FetchError(f"the response from {url} was empty", url=url, transient=True)
            return FetchedResponse(
                url=url, status=response.status_code, headers=dict(response.headers), body=body
            )

    def _raise_for_status(self, url: str, response: requests.Response) -> None:
        status = response.status_code
        reason = f" {response.reason}" if response.reason else ""
        raise FetchError(
            f"HTTP {status}{reason} from {url}",
            url=url,
            transient=status in RETRY_STATUSES,
            status=status,
            retry_after=retry.retry_after(response.headers.get("Retry-After")),
        )

    def _read_limited(self, url: str, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large(url, int(declared)), url=url, transient=False)
        chunks = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(self._too_large(url, size, at_least=True), url=url, transient=False)
                chunks.append(chunk)
        except requests.Timeout:
            raise FetchError(f"timed out reading {url}", url=url, transient=True) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise FetchError(
                f"connection lost reading {url}: {_reason(exc)}", url=url, transient=True
            ) from None
        return b"".join(chunks)

    def _too_large(self, url: str, size: int, at_least: bool = False) -> str:
        detail = f"stopped reading at {size} bytes" if at_least else f"{size} bytes declared"
        return f"response from {url} is too large ({detail}; the limit is {self.max_bytes} bytes)"


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text[:200]
