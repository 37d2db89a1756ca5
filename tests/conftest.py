"""Settings for the whole test session."""

from __future__ import annotations

import os
import tempfile

# Hypothesis keeps caches in ./.hypothesis by default: the tests must leave the checkout as they found
# it (a site's copy may be read-only, and ordinary users must be able to read what is there).
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), f"omnipilot-hypothesis-{os.getuid()}")
)
