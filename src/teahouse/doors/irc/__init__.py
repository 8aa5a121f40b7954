"""The IRC front door (RFC 1459/2812 + IRCv3) on the same hub as the native door.

:class:`teahouse.doors.irc.door.IrcDoor` listens; :mod:`.connection` is one client;
:mod:`.registration` the sans-I/O registration; :mod:`.table` the command table;
:mod:`.handlers` the commands; :mod:`.encoder` how broadcasts are spelled.
"""
