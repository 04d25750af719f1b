"""The one error type users see.

Bad input is detected where it enters (a media source, the checkpoint loader, the data
set) and raised as :class:`RtStyleError` with a message fit for a user. The CLI turns it
into one line on stderr and exit code 2; library callers can catch it.
"""


class RtStyleError(Exception):
    """A problem with the user's input or environment, described in one line."""
