"""Paper text and links made fit to show a reader, in a page, an email or a feed.

Used when a paper is read from a source (bounded title and abstract) and when it is shown
(digest blocks, the sign-up form's preview), so both say the same thing the same way.
"""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """`text` with its whitespace collapsed, cut to at most `limit` characters.

    Text that fits is returned whole. Longer text is cut at the last space in the second
    half of the limit (a word is never split unless one word fills that half: then it is
    cut inside), trailing spaces and `,;:.` are dropped, and "…" is added. The ellipsis
    counts: the result never has more than `limit` characters.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit - 1].rstrip(" ,;:.") + "…"


def safe_url(url: str) -> str:
    """`url` if it is an absolute http(s) link, else "": a feed may carry javascript: or worse."""
    return url if url[:8].lower().startswith(("https://", "http://")) else ""


def hf_url(arxiv_id: str | None, upvotes: int | None) -> str:
    """The paper's Hugging Face page, for a paper Hugging Face lists (it has upvotes there)."""
    if arxiv_id and upvotes is not None:
        return f"https://huggingface.co/papers/{arxiv_id}"
    return ""
