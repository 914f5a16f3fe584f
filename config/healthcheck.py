"""The web container's health probe: `python -m config.healthcheck [URL]`.

Asks the running web server for /healthz (the database and the broker answer) and exits 0
on 200, 1 otherwise with the answer on stderr. The standard library only: it must work
whatever state the application is in. The Host header is the first name of
DJANGO_ALLOWED_HOSTS, so that host validation lets the probe through.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def probe_host() -> str | None:
    for name in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return None


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    request = urllib.request.Request(url)  # noqa: S310 - a URL the operator gives, or loopback
    host = probe_host()
    if host:
        request.add_header("Host", host)
    # The proxy's header: the probe is not redirected to https, whatever the settings.
    request.add_header("X-Forwarded-Proto", "https")
    try:
        with urllib.request.urlopen(request, timeout=8) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{url}: {exc.code} {exc.read()[:500].decode('utf-8', 'replace')}", file=sys.stderr)
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
