"""The recipient's pages: password form, shared studies, viewer, and the error pages.

Pure functions from data to a response; every data value is escaped (:mod:`.html`).
Paths given in are URL paths made by the caller from escaped segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.responses import HTMLResponse

from openpacs.protocol.paths import ResourcePath
from openpacs.services.ratelimit import retry_after_header
from openpacs.services.share_access import OpenShare, SeriesView, SharedStudy
from openpacs.web.share.html import h, json_for_script, page_response, u

BRAND = '<div class="brand">open<span>pacs</span></div>'
FOOTER = (
    "<footer>Medical images shared with you through a private link. "
    "Please do not forward it.</footer>"
)

#: Viewer window presets: (query value, label, DICOMweb ``window`` parameter or "").
PRESETS: tuple[tuple[str, str, str], ...] = (
    ("default", "Default", ""),
    ("soft", "Soft tissue", "40,400,linear"),
    ("lung", "Lung", "-600,1500,linear"),
    ("bone", "Bone", "300,1500,linear"),
)
PRESET_WINDOWS = {key: window for key, _, window in PRESETS}


# -- formatting -----------------------------------------------------------------------------


def format_date(value: str) -> str:
    """YYYYMMDD -> YYYY-MM-DD; anything else as it is."""
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def format_name(value: str) -> str:
    """A DICOM person name ``Family^Given^Middle^Prefix^Suffix`` as "Family, Given Middle"."""
    first_group = value.split("=")[0]
    parts = [p.strip() for p in first_group.split("^")]
    family = parts[0] if parts else ""
    given = " ".join(p for p in parts[1:3] if p)
    if family and given:
        return f"{family}, {given}"
    return family or given or value.strip()


def format_sex(value: str) -> str:
    return {"M": "Male", "F": "Female", "O": "Other"}.get(value.strip().upper(), value.strip())


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _bar(right: str = "", left: str = "") -> str:
    return f'<header class="bar">{BRAND}{left}<div class="note">{right}</div></header>'


# -- notices --------------------------------------------------------------------------------


def notice_page(
    status: int, title: str, message: str, *, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A short page with a title and one paragraph (both plain text)."""
    body = (
        _bar()
        + f'<main><section class="notice"><h1>{h(title)}</h1><p>{h(message)}</p></section></main>'
        + FOOTER
    )
    return page_response(title, body, status=status, headers=headers)


def not_found_page() -> HTMLResponse:
    # Unknown and deleted links look the same: nothing tells which applies.
    return notice_page(
        404,
        "Link not found",
        "This share link does not work. It may be mistyped, or it is no longer shared. "
        "Ask the sender for a new link.",
    )


def expired_page(reason: str) -> HTMLResponse:
    return notice_page(
        410,
        "This link has expired",
        f"{reason[:1].upper()}{reason[1:]}. Ask the sender for a new link if you still "
        "need these images.",
    )


def missing_page(what: str) -> HTMLResponse:
    return notice_page(404, "Not found", f"{what} is not part of the studies shared here.")


def download_refused_page(share_url: str) -> HTMLResponse:
    body = (
        _bar() + '<main><section class="notice"><h1>Download not allowed</h1>'
        "<p>The sender of this link allows viewing the images, but not downloading them.</p>"
        f'<p><a class="button secondary" href="{h(share_url)}">Back to the studies</a></p>'
        "</section></main>" + FOOTER
    )
    return page_response("Download not allowed", body, status=403)


def too_many_attempts_page(retry_after: float) -> HTMLResponse:
    return notice_page(
        429,
        "Too many attempts",
        "Too many wrong passwords were tried for this link from your network. "
        f"Please wait {_minutes(retry_after)} and try again.",
        headers=retry_after_header(retry_after),
    )


def password_page(
    action: str, *, error: str = "", next_path: str = "", status: int = 200
) -> HTMLResponse:
    """The password form; posts to ``action`` (the share's path)."""
    alert = f'<p class="error" role="alert" id="password-error">{h(error)}</p>' if error else ""
    next_field = f'<input type="hidden" name="next" value="{h(next_path)}">' if next_path else ""
    body = (
        _bar("Protected share") + '<main><section class="notice"><h1>Password required</h1>'
        "<p>The sender protected these images with a password. "
        "Enter it to see the shared studies.</p>"
        f"{alert}"
        f'<form method="post" action="{h(action)}" autocomplete="off">'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" required autofocus>'
        f"{next_field}"
        '<button class="button" type="submit" id="submit">Open</button>'
        "</form></section></main>" + FOOTER
    )
    return page_response("Password required", body, status=status)


# -- the list of shared studies -------------------------------------------------------------


@dataclass(frozen=True)
class ShareLinks:
    """URL paths of one share (from escaped segments; ``page`` is the share's own path)."""

    page: str
    dicomweb: str
    ohif: str = ""  # the share's OHIF viewer ("" when OHIF is not installed)

    def ohif_study(self, study_uid: str) -> str:
        return f"{self.ohif}/viewer?StudyInstanceUIDs={u(study_uid)}"

    def viewer(self, series_uid: str) -> str:
        return f"{self.page}/viewer/{u(series_uid)}"

    def download(self, study_uid: str) -> str:
        return f"{self.page}/download/{u(study_uid)}"

    def thumbnail(self, study_uid: str, series_uid: str) -> str:
        return self.dicomweb + h(ResourcePath(study_uid, series_uid).url("", "thumbnail"))

    def series_base(self, study_uid: str, series_uid: str) -> str:
        return self.dicomweb + h(ResourcePath(study_uid, series_uid).url("", "instances")) + "/"


def _fact(label: str, value: str, name: str) -> str:
    if not value:
        return ""
    return f'<div><dt>{h(label)}</dt><dd class="{name}">{h(value)}</dd></div>'


def _study_card(study: SharedStudy, share: OpenShare, links: ShareLinks) -> str:
    facts = "".join(
        (
            _fact("Patient ID", study.patient_id, "patient-id"),
            _fact("Birth date", format_date(study.birth_date), "birth-date"),
            _fact("Sex", format_sex(study.sex), "sex"),
            _fact("Study date", format_date(study.study_date), "study-date"),
            _fact("Modality", ", ".join(study.modalities), "modalities"),
            _fact("Images", str(study.images), "images"),
        )
    )
    if study.images and share.downloadable:
        action = (
            f'<a class="button download" href="{links.download(study.study_uid)}">'
            "Download study (ZIP)</a>"
        )
    elif study.images:
        action = '<span class="no-download">Download not enabled for this link</span>'
    else:
        action = ""
    if study.images and links.ohif:
        action = (
            f'<a class="button ohif" href="{links.ohif_study(study.study_uid)}">'
            "Open in viewer</a> " + action
        )
    description = f'<p class="desc">{h(study.description)}</p>' if study.description else ""
    if study.series:
        items = []
        for series in study.series:
            number = f"#{series.number} " if series.number is not None else ""
            label = " · ".join(x for x in (series.modality, series.description) if x)
            images = f"{series.images} image{'s' if series.images != 1 else ''}"
            items.append(
                f'<li><a class="series-link" href="{links.viewer(series.series_uid)}" '
                f'title="{h(series.description or series.series_uid)}">'
                f'<img class="thumb" loading="lazy" width="128" height="128" '
                f'src="{links.thumbnail(series.study_uid, series.series_uid)}" '
                f'alt="{h("Series " + number + label)}">'
                f'<span class="caption">{h(number + label)}<small>{h(images)}</small></span>'
                "</a></li>"
            )
        series_html = f'<ul class="series">{"".join(items)}</ul>'
    else:
        series_html = '<p class="empty">No images have arrived for this study yet.</p>'
    return (
        f'<article class="study" data-study="{h(study.study_uid)}">'
        '<div class="study-head"><div>'
        f'<h2 class="patient">{h(format_name(study.patient_name) or "Unnamed patient")}</h2>'
        f'<dl class="facts">{facts}</dl>{description}</div>'
        f'<div class="actions">{action}</div></div>{series_html}</article>'
    )


def share_page(share: OpenShare, studies: list[SharedStudy], links: ShareLinks) -> HTMLResponse:
    title = share.title or ("Shared folder" if share.is_folder else "Shared studies")
    description = f'<p class="lead">{h(share.description)}</p>' if share.description else ""
    count = f"{len(studies)} stud{'ies' if len(studies) != 1 else 'y'}"
    pills = [f'<li class="pill">{h(count)}</li>']
    if share.expire_date:
        pills.append(f'<li class="pill">Link valid until {h(share.expire_date)}</li>')
    if share.downloadable:
        pills.append('<li class="pill ok">Downloads allowed</li>')
    cards = "".join(_study_card(s, share, links) for s in studies)
    if not studies:
        cards = '<p class="empty">Nothing is shared through this link at the moment.</p>'
    body = (
        _bar("Shared with you")
        + f'<main><section class="intro"><h1 id="share-title">{h(title)}</h1>{description}'
        f'<ul class="meta">{"".join(pills)}</ul></section>{cards}</main>' + FOOTER
    )
    return page_response(title, body)


# -- the viewer -----------------------------------------------------------------------------

_VIEWER_JS = """
(function () {
  var data = JSON.parse(document.getElementById('viewer-data').textContent);
  var img = document.getElementById('image');
  var pos = document.getElementById('position');
  var prev = document.getElementById('prev');
  var next = document.getElementById('next');
  var slider = document.getElementById('slider');
  var presets = document.querySelectorAll('.presets a');
  var n = data.images.length;
  var i = data.index;
  function src(k) {
    return data.base + data.images[k] + '/rendered' + (data.window ? '?window=' + data.window : '');
  }
  function page(k, preset) {
    return '?image=' + (k + 1) + '&preset=' + encodeURIComponent(preset);
  }
  function show(k) {
    if (k < 0 || k >= n || k === i) { return; }
    i = k;
    img.src = src(i);
    img.alt = 'Image ' + (i + 1) + ' of ' + n;
    pos.textContent = 'Image ' + (i + 1) + ' of ' + n;
    slider.value = String(i + 1);
    prev.classList.toggle('disabled', i === 0);
    next.classList.toggle('disabled', i === n - 1);
    prev.href = page(Math.max(i - 1, 0), data.preset);
    next.href = page(Math.min(i + 1, n - 1), data.preset);
    presets.forEach(function (a) { a.href = page(i, a.dataset.preset); });
    history.replaceState(null, '', page(i, data.preset));
    if (i + 1 < n) { new Image().src = src(i + 1); }
  }
  prev.addEventListener('click', function (e) { e.preventDefault(); show(i - 1); });
  next.addEventListener('click', function (e) { e.preventDefault(); show(i + 1); });
  slider.hidden = n < 2;
  slider.addEventListener('input', function () { show(Number(slider.value) - 1); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown' || e.key === 'PageDown') {
      e.preventDefault(); show(i + 1);
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp' || e.key === 'PageUp') {
      e.preventDefault(); show(i - 1);
    } else if (e.key === 'Home') { show(0); } else if (e.key === 'End') { show(n - 1); }
  });
  document.getElementById('stage').addEventListener('wheel', function (e) {
    e.preventDefault(); show(i + (e.deltaY > 0 ? 1 : -1));
  }, {passive: false});
  if (i + 1 < n) { new Image().src = src(i + 1); }
})();
"""


def viewer_page(
    view: SeriesView, links: ShareLinks, index: int, preset: str, back: str = "All studies"
) -> HTMLResponse:
    """One image of the series with previous/next links (work without JavaScript too);
    ``back`` names the page of ``links.page`` (the share's list, or an order's page)."""
    images = view.images
    study, series = view.study, view.series
    base = links.series_base(series.study_uid, series.series_uid)
    paths = [
        u(img.sop_uid) + (f"/frames/{img.frame}" if img.frame is not None else "") for img in images
    ]
    window = PRESET_WINDOWS.get(preset, "")
    total = len(images)

    def page(k: int, chosen: str = preset) -> str:
        return f"?image={k + 1}&amp;preset={h(chosen)}"

    number = f"Series {series.number}" if series.number is not None else "Series"
    heading = " · ".join(
        x
        for x in (
            format_name(study.patient_name),
            format_date(study.study_date),
            f"{number} {series.modality}".strip(),
            series.description,
        )
        if x
    )
    preset_links = "".join(
        f'<a href="{page(index, key)}" data-preset="{h(key)}"'
        f'{" class=active" if key == preset else ""} id="preset-{h(key)}">{h(label)}</a>'
        for key, label, _ in PRESETS
    )
    if total:
        query = f"?window={h(window)}" if window else ""
        src = f"{base}{paths[index]}/rendered{query}"
        prev_class = "button secondary" + (" disabled" if index == 0 else "")
        next_class = "button secondary" + (" disabled" if index >= total - 1 else "")
        controls = (
            '<div class="toolbar">'
            f'<a id="prev" class="{prev_class}" href="{page(max(index - 1, 0))}">◀ Previous</a>'
            f'<span id="position" class="position">Image {index + 1} of {total}</span>'
            f'<a id="next" class="{next_class}" href="{page(min(index + 1, total - 1))}">'
            "Next ▶</a>"
            f'<input type="range" id="slider" min="1" max="{total}" value="{index + 1}" '
            'aria-label="Image number" hidden>'
            f'<nav class="presets"><span>Window</span>{preset_links}</nav></div>'
            f'<figure class="stage" id="stage"><img id="image" src="{src}" '
            f'alt="Image {index + 1} of {total}"></figure>'
            '<p class="hint">Arrow keys or the mouse wheel move through the images.</p>'
        )
        data = {"base": base, "images": paths, "index": index, "window": window, "preset": preset}
        controls += (
            f'<script type="application/json" id="viewer-data">{json_for_script(data)}</script>'
        )
        script = _VIEWER_JS
    else:
        controls = '<p class="empty">This series has no images that can be shown.</p>'
        script = ""
    left = f'<a href="{h(links.page)}" id="back">← {h(back)}</a>'
    body = _bar(h(heading), left) + f"<main>{controls}</main>"
    return page_response(heading or "Viewer", body, script=script, body_class="dark")
