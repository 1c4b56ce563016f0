# syntax=docker/dockerfile:1
# The etablera image: one image for every role of compose.yaml (migrate, web, the Prefect
# server, the deployments step and the workers), told apart by their commands.
#
#   docker build -t etablera .
#
# Two stages. The builder makes wheels: etablera's own (`pip wheel` over this folder, which
# is the package: pyproject.toml maps it to `etablera`) and one for each dependency, at the
# versions constraints.txt pins. The runtime stage installs those wheels and nothing else:
# no compiler, no build tools, no source tree, no network; it runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY . .
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels . \
 && ls /wheels

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels etablera \
 && groupadd --system --gid 10001 etablera \
 && useradd --system --uid 10001 --gid etablera --home-dir /srv/etablera --create-home etablera \
 && install -d -o etablera -g etablera -m 0700 /srv/etablera/var /srv/etablera/reports
USER etablera:etablera
WORKDIR /srv/etablera
# The settings compose.yaml and `etablera stack up` share (stack/stack.env) are in the
# package; these are only what the image itself decides. The configuration's snapshot
# (models/snapshot.py) goes on the writable volume, so a read-only root keeps it too.
ENV ETABLERA_ENV=production \
    ETABLERA_AUDIT_KEY_FILE=/srv/etablera/var/audit.key \
    ETABLERA_CACHE_DIR=/srv/etablera/var/cache \
    PREFECT_HOME=/srv/etablera/var/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
VOLUME ["/srv/etablera/var", "/srv/etablera/reports"]
EXPOSE 8000 4200
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["etablera", "web", "--host", "0.0.0.0", "--port", "8000"]
