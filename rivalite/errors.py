"""riva-lite's one error type: the message names the thing, what was wrong, and the next step."""


class RivaLiteError(Exception):
    pass
