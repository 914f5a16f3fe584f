"""Small helpers every layer may use: bulk writes, bounded caches, mail error classes.

Nothing here imports another part of the project.
"""
