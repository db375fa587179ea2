"""Use cases: store, search, retrieve, delete, orders, folders, shares, assignments.

Service shape, one for every face (DICOMweb, the custom API, share pages, the DICOM node):

* A **use case is a class** built with what it needs of the process (the ``Database``,
  the blob store, the audit trail, settings values) and called with the ``Principal``
  who asks: ``OrderService(db).create(who, new)``, ``DeleteService(db, blobs).delete(who,
  scope)``, ``StoreService``/``StowDriver`` (one per process: they keep state between
  requests). Each method checks the caller's permission first
  (:mod:`openpacs.services.permissions`), is one unit of work that opens, commits and
  closes its own session, and writes its order of work down where the work is (what
  commits before which blob is touched).
* A **building block that composes into a caller's transaction is a function taking the
  ``Session``** and never commits: ``search.search``, ``retrieve.list_instances``,
  ``orders.find_order``. A handler that streams (WADO metadata in batches, QIDO pages)
  opens short sessions around them so that a slow client holds no transaction.

SQL statements are built in ``openpacs.index`` (``qido_sql``, ``retrieve_sql``,
``delete_rows``, ``instance_rows``, ``instance_lookups``, ``order_link``, ``audit``,
``reservations``, ``credentials``, ``directory_rows``, ``share_rows``, ``share_links``,
``tag_rows``, ``folder_rows``, ...); a service decides, checks permissions and turns
"nothing visible" into ``NotFound``. Not yet everywhere: ``orders.py`` and
``accounts.py`` still build statements of their own (order lists and look-ups, account
administration), and every service still
reads and changes ORM rows itself inside its unit of work (``session.get``,
``session.add``, assigning attributes). HTTP statuses are chosen in ``web/``
(``web/errors.py``), DIMSE statuses in ``dimse/``.

Layers (pinned by ``tests/unit/test_layers.py``): ``protocol`` may import ``dicom``, never
the reverse; ``index`` imports neither ``services`` nor ``web``; ``services`` imports no
face (``web``, ``dimse``, ``cli``, ``client``); ``web`` and ``dimse`` do not import each
other.
"""
