"""``GET /upload``: drag and drop files or folders (a patient CD too); ``upload.js`` sends
them to the account's STOW-RS root (``/dicomweb/studies``) in batches with the session
cookie and its CSRF token, and shows a progress bar, each file's result and a summary."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.principal import Principal
from openpacs.web.ui.common import frame, signed_in_page
from openpacs.web.ui.layout import page


@signed_in_page
async def upload_page(request: Request, who: Principal) -> Response:
    fr = frame(request, who, "upload")
    if not fr.may_write:
        body = (
            '<section class="card narrow"><h1>Upload</h1>'
            f"<p>Your role ({who.role}) may not upload images.</p></section>"
        )
        return page(fr, "Upload", body, status=403)
    body = (
        '<h1>Upload images</h1><div id="upload">'
        '<section class="card"><div class="drop" id="drop">'
        "<p><strong>Drop DICOM files or whole folders here</strong></p>"
        '<p class="muted">A patient CD works too: its files without an extension are found '
        "by their content; other files are skipped.</p>"
        '<p><input type="file" id="pick-files" multiple class="hidden-input">'
        '<label class="button" for="pick-files">Choose files</label> '
        '<input type="file" id="pick-folder" webkitdirectory directory multiple '
        'class="hidden-input">'
        '<label class="button secondary" for="pick-folder">Choose a folder</label></p>'
        "</div>"
        '<progress id="progress" max="1" value="0" aria-label="Upload progress"></progress>'
        '<p class="muted" id="progress-text" aria-live="polite">Nothing sent yet.</p>'
        '<div class="summary" id="summary" aria-live="polite"></div></section>'
        '<section class="card hidden" id="results-box"><h2>Files</h2>'
        '<div class="table-wrap results"><table id="results"><thead><tr><th>File</th>'
        "<th>Result</th><th>Reason</th></tr></thead><tbody></tbody></table></div></section>"
        f'<p><a href="{fr.url("/orders")}">Go to the orders</a> to see what arrived.</p></div>'
    )
    return page(fr, "Upload", body, scripts=("upload.js",))
