"""The browser client: static files served by the web door (``static/``)."""
