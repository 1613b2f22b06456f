"""Import brian2 without letting it take over the user's process.

On its first import brian2 initialises its logger, which replaces ``sys.excepthook``
(every later uncaught error of the user's script, even one unrelated to brian2, is
then printed after "Brian 2 encountered an unexpected error ... please report this
bug") and routes Python warnings into its log (``logging.captureWarnings(True)``).
When neurosim is the first to import brian2, both are restored here: errors and
warnings of the user's process look as they would without brian2. (A script that
imports brian2 itself first keeps brian2's behaviour: its own choice.)
"""

from __future__ import annotations

import logging
import sys
import warnings

_first = "brian2" not in sys.modules
_hook, _showwarning = sys.excepthook, warnings.showwarning

import brian2  # noqa: E402,F401

if _first:
    if sys.excepthook is not _hook:
        sys.excepthook = _hook
    if warnings.showwarning is not _showwarning:
        logging.captureWarnings(False)
        warnings.showwarning = _showwarning
