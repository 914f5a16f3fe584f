"""Small helpers every layer may use, each in one place: bulk writes (bulk), slices of long
lists (batches), the bounded memo (caches), Retry-After (retry), paper text and links fit
to show (display), what a mail failure means (mailerrors), queueing tasks by name (jobs),
pausing the cycle collector around bulk construction (collector).

Nothing here imports another part of the project.
"""
