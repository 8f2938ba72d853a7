# syntax=docker/dockerfile:1
#
# One Festival app process per container. The scaled stack (PostgreSQL, Redis,
# a one-shot migration, N app replicas, nginx in front) is docker-compose.yml.
#
#   docker build -t festival .
#   docker run --rm -p 8000:8000 festival \
#       sh -c 'festival db upgrade && festival demo && festival serve --host 0.0.0.0'
#       # (embedded SQLite inside the container: a quick look, not production)
#
# Configuration is the FESTIVAL_* environment (see festival/settings.py).

FROM python:3.11-slim AS build
# The image installs exactly what uv.lock says (hashes checked), with the uv that
# the Makefile pins; UV_PYTHON_DOWNLOADS=never keeps the image's own Python.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/festival \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
RUN pip install uv==0.13.9
WORKDIR /src
# The locked dependencies first: a layer that code changes do not invalidate.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --locked --no-install-project
COPY festival ./festival
COPY schedule ./schedule
COPY tickets ./tickets
COPY realtime ./realtime
COPY api ./api
COPY migrations ./migrations
# A regular (non-editable) install without the dev extras: the image carries the
# installed packages only, not this source tree.
RUN uv sync --locked --no-editable

FROM python:3.11-slim
ENV PATH=/opt/festival/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FESTIVAL_LOG_LEVEL=INFO
RUN groupadd --system --gid 10001 festival \
    && useradd --system --uid 10001 --gid festival --home-dir /app --no-create-home festival \
    && mkdir /app && chown festival:festival /app
COPY --from=build /opt/festival /opt/festival
# The working directory is writable by the app user only for the embedded default
# (./festival.db and .festival-secret); production points at PostgreSQL.
WORKDIR /app
USER festival:festival
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["festival", "serve", "--host", "0.0.0.0", "--port", "8000"]
