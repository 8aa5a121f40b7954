"""Names the clients used for ``away``, ``whois`` and ``mode`` while the server did not have
them yet; the frames are in :mod:`teahouse.protocol.frames` now, and these are aliases.

A server that answers ``unknown_type`` (an older teahouse) still gets the clients' plain
"this server does not support /away yet".
"""

from __future__ import annotations

from teahouse.protocol import frames as f

AwayRequest = f.Away
WhoisRequest = f.Whois
ModeRequest = f.Mode
Away = f.AwayChanged
WhoisInfo = f.WhoisInfo
ModeInfo = f.ModeChanged

__all__ = ["Away", "AwayRequest", "ModeInfo", "ModeRequest", "WhoisInfo", "WhoisRequest"]
