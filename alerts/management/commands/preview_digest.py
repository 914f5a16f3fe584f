from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from alerts.digests.previews import digest_preview
from alerts.management.commands.send_digests import parse_date
from subscribers.models import Subscriber


class Command(BaseCommand):
    help = "Show the digest a subscriber would get now (subject and text; --html writes the HTML part)."

    def add_arguments(self, parser):
        parser.add_argument("address")
        parser.add_argument("--date", type=parse_date, help="as if sent at the end of this local date")
        parser.add_argument("--html", type=Path, help="write the HTML part to this file")

    def handle(self, *args, **opts):
        subscriber = Subscriber.objects.by_email(opts["address"]).first()
        if subscriber is None:
            raise CommandError(f"no subscriber with the address {opts['address']!r}")
        preview = digest_preview(subscriber=subscriber, day=opts["date"])
        self.stdout.write(f"Subject: {preview.rendered.subject}\n\n{preview.rendered.text}")
        if opts["html"]:
            try:
                opts["html"].write_text(preview.rendered.html, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {opts['html']}: {exc.strerror}") from exc
            self.stderr.write(f"HTML written to {opts['html']}")
