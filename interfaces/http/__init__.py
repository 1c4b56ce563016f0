"""The web interface and HTTP API for case officers (FastAPI, server-rendered Jinja2).

Imported only by `etablera web` and the tests: the CLI never loads FastAPI at start-up.
`create_app()` builds the application; `interfaces.http.api` holds the JSON API,
`interfaces.http.pages` the pages, `interfaces.http.auth` logins, sessions and CSRF.
"""
