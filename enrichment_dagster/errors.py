"""The one exception type for bad input or configuration from the user.

Why one type: the console script must tell a user's mistake (a missing file, a malformed
``ENRICHMENT_*`` value, an invalid identifier) from a bug in the program. A mistake is
raised as :class:`InputError` with a message that names the input and its bad value; the
CLI's error boundary (``enrichment_dagster.cli.main``) prints it as one line and exits 2,
while any other exception keeps its traceback. No Dagster import: the core raises it too.
"""

from __future__ import annotations


class InputError(ValueError):
    """A user-supplied input (argument, file, environment variable) is unusable.

    A ``ValueError`` so that callers which already catch ``ValueError`` for bad values keep
    catching it. The message must name the input and say what is wrong with it.
    """
