"""Papers: where they come from and how they are stored.

Sources (pure parsers from a response body to `PaperRecord`s), the HTTP client that
fetches them politely, the fetch service that runs one source, ingest (upsert by arXiv id)
and the read-side selectors over stored papers.
"""
