"""Errors that the command line reports as one line, without a traceback."""


class UserError(Exception):
    """A problem the user can fix: bad input, bad configuration, a refused request.

    The message says what is wrong, which setting or request it concerns and what to
    do next; the command line prints it as is (secrets masked) and exits non-zero.
    """

    exit_code = 1
