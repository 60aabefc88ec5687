"""CLI tests run commands in-process with ``CliRunner``, which swaps stdout/stderr per call.

Lightning adds a log handler bound to the stderr of the moment it is first imported; imported
inside a ``CliRunner`` call, that stream is closed by the next call. Importing it here binds
the handler to the test session's stderr instead.
"""

import lightning.pytorch  # noqa: F401
