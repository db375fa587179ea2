"""Use cases: store, search, retrieve, delete, orders, folders, shares, assignments.

Service shape: module functions, not classes that hold the database. A function that is
a unit of work of its own takes the ``Database`` and opens, commits and closes its
session, so that its order of work (what commits before which blob is touched) is
written where the work is (``delete.delete_resource``). A function that composes into
its caller's transaction takes the ``Session`` and never commits (``search.search``,
``retrieve.list_instances``). Classes are for what runs alongside requests and keeps
state between them (the index writer's group commit, the audit trail's batches);
``store.StoreService`` and ``shares.ShareService`` predate the rule and are still to be
turned into functions.

SQL lives in ``openpacs.index`` (``qido_sql``, ``retrieve_sql``, ``delete_rows``,
``instance_rows``, ``order_link``, ``audit``); a service decides, checks permissions and
turns "nothing visible" into ``NotFound``.
"""
