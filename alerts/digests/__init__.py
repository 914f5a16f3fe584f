"""Digests: from the day's papers to a sent email and its feedback.

Periods (when a subscriber is due), dispatch (digest rows and chunks for workers), composing
(match and rank), rendering, sending (claim, hand off, finalise), recovery, the send journal,
ESP webhooks, previews and the signed links a digest carries.
"""
