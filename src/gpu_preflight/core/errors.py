"""Errors that end a command with one clear line on stderr and exit code 2."""


class UsageError(Exception):
    """The request itself was unusable: a bad flag, an unreadable or malformed input."""
