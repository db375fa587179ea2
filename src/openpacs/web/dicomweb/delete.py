"""DELETE /studies/{study}[/series/{series}[/instances/{sop}]] (a common extension).

204 No Content on success; 404 for what the caller cannot see; 403 for read-only (share)
access. What happens to the index, the blobs and the patient order is described in
:mod:`openpacs.services.delete`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.delete import DeleteService
from openpacs.web.context import context, principal
from openpacs.web.dicomweb.wado_common import in_thread, scope_of


async def delete(request: Request) -> Response:
    ctx, who, scope = context(request), principal(request), scope_of(request)
    await in_thread(lambda: DeleteService(ctx.db, ctx.blobs).delete(who, scope))
    return Response(status_code=204)
