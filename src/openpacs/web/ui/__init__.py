"""The web application for an account's own users, served at ``/`` (``routes.py``).

Server-rendered pages (``layout.py`` draws the frame; every value escaped with
:func:`openpacs.web.share.html.h`) with small scripts shipped in ``static/`` (no Node
build, no CDN: nothing is ever loaded from another address). Every page goes through
the same services as the API, with the signed-in user's principal, so the role table
holds here too.
"""
