"""The ASGI application `etablera web` serves (uvicorn imports `interfaces.http.server:app`,
once per worker process)."""

import os

from etablera.interfaces.http.app import create_app

app = create_app(secure_cookies=os.environ.get("ETABLERA_SECURE_COOKIES") == "1",
                 threads=int(os.environ.get("ETABLERA_WEB_THREADS", "0")) or None, background_checkpoints=True)
