import functools

from django import template

from alerts.search import taxonomy

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template, or None."""
    return mapping.get(key) if mapping else None


@register.simple_tag
def arxiv_archives() -> list[tuple[str, list[tuple[str, str]]]]:
    """arXiv's taxonomy for the category picker: [(archive name, [(category, its name)])],
    archives in the order of their names, categories in the order of their codes."""
    return _archives()


@functools.cache
def _archives() -> list[tuple[str, list[tuple[str, str]]]]:
    tax = taxonomy.taxonomy()
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, name in sorted(tax.categories.items()):
        groups.setdefault(code.split(".", 1)[0], []).append((code, name))
    named = [(tax.archives.get(archive, archive), items) for archive, items in groups.items()]
    return sorted(named)


# Queries the sign-up page offers as examples (each valid: tests/subscribers/test_hints.py).
QUERY_EXAMPLES = (
    'ti:"large language model" AND cat:cs.CL',
    "diffusion AND cat:cs.RO",
    '"retrieval augmented generation" OR ti:RAG',
    "au:lecun",
    "cat:cs.LG ANDNOT ti:survey",
)


@register.simple_tag
def query_examples() -> tuple[str, ...]:
    return QUERY_EXAMPLES
