"""What an OHIF page is given: its configuration script and its response headers.

The configuration (``window.config``) is made per page: the account's DICOMweb root for
``/viewer/``, a share's read-only root for a share's viewer. It holds no credentials:
the pages are same-origin, so the browser's session cookie (or Basic credentials)
go with OHIF's requests by themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from openpacs.ohif.release import PUBLIC_PATH

# What OHIF needs and nothing more: its scripts and wasm codecs from this origin
# ('wasm-unsafe-eval' compiles WebAssembly, not JavaScript), web workers built from blob:
# URLs, inline styles (React sets style attributes), images and data from this origin,
# data: and blob: for decoded images and fonts. No other origin is reachable.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' data: blob:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)


def page_headers(*, referrer: str = "same-origin") -> dict[str, str]:
    """Headers of OHIF's page and configuration (never cached: they depend on who asks)."""
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": referrer,
        "Cache-Control": "no-store",
    }


@dataclass(frozen=True)
class ViewerConfig:
    """One page's OHIF configuration."""

    router_basename: str  # the page's path, e.g. /viewer or /share/{token}/ohif
    dicomweb_root: str  # path of the DICOMweb root, e.g. /dicomweb
    friendly_name: str
    #: The sign-in page (``/signin``) for a signed-in user's viewer: a DICOMweb call
    #: answered 401 (the session ended) sends the page there, to come back afterwards.
    #: Empty for a share's viewer (its password is asked by its own page).
    sign_in: str = ""

    def data_source(self) -> dict[str, object]:
        return {
            "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
            "sourceName": "openpacs",
            "configuration": {
                "friendlyName": self.friendly_name,
                "name": "openpacs",
                "wadoUriRoot": self.dicomweb_root,
                "qidoRoot": self.dicomweb_root,
                "wadoRoot": self.dicomweb_root,
                # openpacs answers includefield lists, fuzzy matching and wildcards.
                "qidoSupportsIncludeField": True,
                "supportsFuzzyMatching": True,
                "supportsWildcard": True,
                "supportsReject": False,
                "imageRendering": "wadors",
                "thumbnailRendering": "thumbnailDirect",
                "enableStudyLazyLoad": True,
                "staticWado": False,
                "singlepart": "bulkdata,video",
                "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
                "omitQuotationForMultipartRequest": True,
                "dicomUploadEnabled": False,
            },
        }

    def config(self) -> dict[str, object]:
        return {
            "routerBasename": self.router_basename,
            "extensions": [],
            "modes": [],
            "customizationService": {},
            "showStudyList": True,
            "maxNumberOfWebWorkers": 3,
            "showWarningMessageForCrossOrigin": False,
            "showCPUFallbackMessage": True,
            "showLoadingIndicator": True,
            "strictZSpacingForVolumeViewport": True,
            "groupEnabledModesFirst": True,
            "allowMultiSelectExport": False,
            "maxNumRequests": {"interaction": 100, "thumbnail": 10, "prefetch": 25},
            "showErrorDetails": "production",
            "defaultDataSourceName": "openpacs",
            "dataSources": [self.data_source()],
        }

    def _sign_in_on_401(self) -> str:
        # ``next`` is a path of this server without the public URL's prefix.
        prefix = self.sign_in.removesuffix("/signin")
        return _SIGN_IN_ON_401 % {
            "signin": json.dumps(self.sign_in),
            "prefix": json.dumps(prefix),
        }

    def script(self) -> str:
        """The page's ``app-config.js``: what OHIF's inline scripts and its own
        ``app-config.js`` would set (no inline script: the CSP forbids them)."""
        data = json.dumps(self.config(), separators=(",", ":"))
        data = data.replace("<", "\\u003c")
        return (
            "/* openpacs: OHIF configuration of this page */\n"
            'console.time("scriptToView");\n'
            f"window.PUBLIC_URL = {json.dumps(PUBLIC_PATH)};\n"
            "function browserImportFunction(n) { return import(n); }\n"
            f"window.config = {data};\n" + (self._sign_in_on_401() if self.sign_in else "")
        )


# OHIF calls ``httpErrorHandler`` for a failed DICOMweb request (dicomweb-client's and the
# image loader's ``errorInterceptor``): a 401 means the session cookie no longer works.
_SIGN_IN_ON_401 = """window.config.httpErrorHandler = function (error) {
  var status = error && (error.status || (error.request && error.request.status));
  if (status !== 401 || window.openpacsSigningIn) { return; }
  window.openpacsSigningIn = true;
  var here = window.location.pathname + window.location.search;
  var prefix = %(prefix)s;
  if (prefix && here.indexOf(prefix) === 0) { here = here.slice(prefix.length); }
  window.location.assign(%(signin)s + "?next=" + encodeURIComponent(here));
};
"""
