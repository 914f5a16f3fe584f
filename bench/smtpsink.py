"""A local SMTP sink for the pipeline benchmark: accepts every message and keeps none.

    python -m bench.smtpsink --port 2525 [--keep DIR --keep-count N]

It runs aiosmtpd in its own process. On SIGTERM it prints one JSON line: messages and
bytes received. With --keep, the first N messages are written to DIR as received (the
benchmark replays them to measure the sink's own ceiling with the same messages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, keep: Path | None, keep_count: int) -> None:
        self.messages = 0
        self.bytes = 0
        self.keep = keep
        self.keep_count = keep_count

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        self.messages += 1
        self.bytes += len(envelope.content)
        if self.keep is not None and self.messages <= self.keep_count:
            (self.keep / f"{self.messages:06d}.eml").write_bytes(envelope.content)
        return "250 OK"


async def serve(port: int, sink: Sink) -> None:
    loop = asyncio.get_running_loop()
    # Messages of a digest are tens of kilobytes; the default limit (32 MB) is kept.
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.local"), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    print(json.dumps({"messages": sink.messages, "bytes": sink.bytes}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--keep-count", type=int, default=1000)
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.port, Sink(args.keep, args.keep_count)))


if __name__ == "__main__":
    main()
