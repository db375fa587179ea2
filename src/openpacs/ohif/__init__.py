"""The OHIF viewer (``@ohif/app``'s prebuilt ``dist/``), installed once and served by openpacs.

* :mod:`.release`: which release is pinned (version, tarball URL, the registry's sha512
  integrity) and where an installation lives.
* :mod:`.install`: fetch the tarball (HTTPS, or a local copy), check its integrity, unpack
  it safely, make it servable under ``/viewer/``.
* :mod:`.bundle`: an installed bundle as the web face sees it: its files by URL path
  (looked up in a table made at start, never a path built from the request), and its
  ``index.html`` made for a page.

No Node, nothing loaded from outside addresses at run time (the pages' CSP forbids it).
"""
