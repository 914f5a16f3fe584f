import datetime as dt
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from alerts.digests.runner import DeliveryRun, digests_run


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must look like 2026-11-24, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Dispatch, match and send the digests of one period in this process (everyone receiving, "
        "whatever their send hour). Running it twice sends nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", type=parse_date, help="the period containing this local date (default: today)"
        )
        parser.add_argument("--email", action="append", default=[], help="only this subscriber (repeatable)")
        parser.add_argument(
            "--dry-run", action="store_true", help="compose and report; create and send nothing"
        )

    def handle(self, *args, **opts):
        progress = None
        if sys.stdout.isatty():
            from tqdm import tqdm

            progress = tqdm(unit="digest", desc="sending", leave=False)
        started = time.monotonic()
        try:
            run: DeliveryRun = digests_run(
                day=opts["date"],
                emails=opts["email"] or None,
                dry_run=opts["dry_run"],
                on_progress=progress.update if progress else None,
                on_total=(lambda n: setattr(progress, "total", n)) if progress else None,
            )
        finally:
            if progress:
                progress.close()
        if opts["email"] and run.subscribers == 0:
            raise CommandError("no receiving subscriber has that address")
        seconds = time.monotonic() - started
        if opts["dry_run"]:
            self.stdout.write(
                f"dry run: {run.subscribers} subscribers, {run.would_send} digests would be sent, "
                f"{run.would_skip} empty ({seconds:.1f}s)"
            )
            return
        self.stdout.write(
            f"dispatched {run.created}, sent {run.sent}, skipped {run.skipped}, failed {run.failed}, "
            f"pending {run.pending} ({seconds:.1f}s)"
        )
        if run.failed:
            self.stderr.write(
                "failed digests and their reasons are listed in the admin (Digests, status failed)"
            )
        if run.unknown:
            self.stderr.write(
                f"{run.unknown} digest(s) with an unknown outcome (the ESP's answer was lost): not sent "
                "again until the recovery sweep has looked for the ESP's evidence (admin: Digests, "
                "status outcome unknown)"
            )
