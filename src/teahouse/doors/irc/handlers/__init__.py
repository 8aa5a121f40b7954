"""The IRC command handlers, one module per area; :mod:`teahouse.doors.irc.table` lists them."""
