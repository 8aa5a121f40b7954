"""The IRC front door (RFC 1459/2812 + IRCv3) on the same hub as the native door."""

from teahouse.doors.irc.door import IrcDoor

__all__ = ["IrcDoor"]
