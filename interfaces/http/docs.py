"""The API documentation page (/api/v1/docs): Swagger UI 5 (it reads OpenAPI 3.1, which
FastAPI writes) served from the files the installed `fastapi-offline` package carries,
never from a CDN, so that it works without the internet and
under the application's own Content-Security-Policy (`script-src 'self'`: the page's
settings are a script file of their own, not an inline script)."""

from __future__ import annotations

from importlib.resources import files

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "docs/assets"
# Only the package's files are used: its own page renders an inline script, which the CSP forbids.
SWAGGER_UI = files(fastapi_offline) / "static"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>etablera API</title>
<link rel="stylesheet" href="{prefix}/{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{prefix}/{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{prefix}/{assets}/swagger-ui-bundle.js"></script>
<script src="{prefix}/docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({{
  url: "{prefix}/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
"""


def install(app: FastAPI, prefix: str) -> None:
    """The docs page, its settings script and Swagger UI's files under `prefix`."""
    router = APIRouter(include_in_schema=False)
    page, init = _PAGE.format(prefix=prefix, assets=ASSETS), _INIT.format(prefix=prefix)

    @router.get(f"{prefix}/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(f"{prefix}/docs/init.js")
    def docs_init() -> Response:
        return Response(init, media_type="text/javascript")

    app.include_router(router)
    app.mount(f"{prefix}/{ASSETS}", StaticFiles(directory=str(SWAGGER_UI)), name="swagger-ui")
