"""The GUI's unit tests: pure modules need nothing; the Qt ones run offscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
