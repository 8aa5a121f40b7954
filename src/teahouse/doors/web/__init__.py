"""The web door: the browser client's files and the native protocol over WebSocket, on one
port. :class:`teahouse.doors.web.door.WebDoor` listens; :mod:`.connection` is one browser;
:mod:`.http` serves files, :mod:`.handshake` checks the upgrade, :mod:`.wire` frames."""
