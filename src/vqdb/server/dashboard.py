"""The web dashboard at /dashboard: static files shipped in the package (dashboard_files/),
no build step. The page calls the same HTTP API as any client (Qdrant's and /vqdb/), with the
API key the user types in, so a read-only key sees everything and is refused an apply (403).
Plots are drawn in the browser by Chart.js (see dashboard_files/CHART_JS.md)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

FILES = Path(__file__).resolve().parent / "dashboard_files"


def routes() -> list[BaseRoute]:
    async def to_folder(request: object) -> RedirectResponse:
        # the page's relative links (app.js, style.css) resolve under /dashboard/
        return RedirectResponse("/dashboard/")

    return [
        Route("/dashboard", to_folder, methods=["GET"]),
        Mount("/dashboard", StaticFiles(directory=FILES, html=True), name="dashboard"),
    ]
