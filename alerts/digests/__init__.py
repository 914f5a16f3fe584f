"""Digests: from the day's papers to a sent email and its feedback.

Periods (when a subscriber is due), dispatch (digest rows and chunks for workers), composing
(match and rank), rendering, messages (the email and its headers), sending (claim, store,
hand off, finalise), recovery (back-off, retry, the sweep), the send journal, ESP webhooks,
previews, and the in-process runner of `send_digests`.
"""
