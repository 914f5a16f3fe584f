"""Search: the query language, arXiv's category taxonomy (what `cat:` accepts), text
normalisation, the in-memory matcher and ranking.

Plain Python with no Django imports, so it can be tested and benchmarked alone. This is the
only part of `alerts` that `subscribers` needs (to check and preview filters).
"""
