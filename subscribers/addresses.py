"""Email addresses as people type them, made safe to store, compare and put in a header.

One canonical form per mailbox: the local part as typed (mail servers may treat it case
sensitively, so it is kept; the database compares addresses case-insensitively), the
domain lower-cased in its Unicode form (IDNA 2008 with UTS #46 mapping), so that
`Ana@BÜCHER.de`, `ana@bücher.de` and `ana@xn--bcher-kva.de` are one subscriber.
"""

import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_LENGTH = 254  # RFC 5321's limit on a forward path, and the model field's length
MAX_LOCAL_LENGTH = 64


class AddressError(ValueError):
    """The text is not an address we can accept; `message` says why, for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize_email(raw: str) -> str:
    """Return the canonical form of an address, or raise AddressError with a clear message."""
    text = unicodedata.normalize("NFC", raw.strip())
    if not text:
        raise AddressError("Enter your email address.")
    # Line breaks and other control characters are how header injection starts; no
    # real address contains one, so refuse them before anything else looks at the text.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise AddressError("An email address cannot contain line breaks or other control characters.")
    if any(ch in text for ch in ",;<>"):
        raise AddressError("Enter one email address only, without a name or angle brackets.")
    if any(ch.isspace() for ch in text):
        raise AddressError("An email address cannot contain spaces.")
    if text.count("@") != 1:
        raise AddressError("Enter an email address like name@example.org.")
    local, domain = text.split("@")
    if not local or not domain:
        raise AddressError("Enter an email address like name@example.org.")
    if "=?" in local:
        # An RFC 2047 encoded word ("=?utf-8?b?YUBldmlsLmV4YW1wbGU=?=" is a@evil.example):
        # no mailbox is named like that, and a program that decodes headers would read
        # another address in it.
        raise AddressError(
            "The part before the @ cannot be an encoded word (=?...?=): type the address itself."
        )
    if not local.isascii():
        # Django's mail (like many mail servers) cannot deliver to a non-ASCII local part
        # (SMTPUTF8); accepting one would mean a subscriber who never gets any mail.
        raise AddressError(
            "The part before the @ can only use Latin letters, digits and . _ + - "
            "(international characters are fine in the domain)."
        )
    if len(local) > MAX_LOCAL_LENGTH:
        raise AddressError(f"The part before the @ can be at most {MAX_LOCAL_LENGTH} characters long.")
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
        unicode_domain = idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError):
        raise AddressError("The part after the @ is not a valid domain name.") from None
    try:
        validate_email(f"{local}@{ascii_domain}")
    except ValidationError:
        raise AddressError("Enter an email address like name@example.org.") from None
    address = f"{local}@{unicode_domain}"
    if len(f"{local}@{ascii_domain}") > MAX_LENGTH:
        raise AddressError(f"An email address can be at most {MAX_LENGTH} characters long.")
    return address


def normalize_domain(raw: str) -> str:
    """A domain as `normalize_email` stores it (lower case, Unicode); AddressError otherwise."""
    try:
        ascii_domain = idna.encode(raw.strip().rstrip("."), uts46=True).decode("ascii")
        return idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError):
        raise AddressError(f"{raw!r} is not a valid domain name.") from None


def domain_patterns(entries: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The allowed domains of a list like ["uni.edu", "*.lab.org"]: (exact domains,
    suffixes that match any subdomain, each with its leading dot). AddressError names a
    bad entry."""
    exact, suffixes = set(), []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry.startswith("*."):
            suffixes.append("." + normalize_domain(entry[2:]))
        elif "*" in entry or "@" in entry:
            raise AddressError(f"{entry!r}: write a domain (uni.edu) or its subdomains (*.uni.edu).")
        else:
            exact.add(normalize_domain(entry))
    return frozenset(exact), tuple(suffixes)


def domain_allowed(address: str, entries: list[str]) -> bool:
    """Whether a normalised address is at one of the allowed domains (empty: any).

    `uni.edu` allows exactly that domain; `*.uni.edu` any domain under it, at any depth
    (cs.uni.edu, a.b.uni.edu), but neither uni.edu itself nor `evil-uni.edu` nor
    `uni.edu.evil.example`: a match is always on whole labels."""
    if not entries:
        return True
    exact, suffixes = domain_patterns(entries)
    domain = address.rsplit("@", 1)[-1]
    return domain in exact or domain.endswith(suffixes)
