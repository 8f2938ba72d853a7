#!/bin/sh
# pretix for `make bench-peers` (bench.peers), from PyPI into a venv of its own
# (bench/peers/pretix/.venv, git-ignored): pretix pins Django, celery and the rest
# to releases of its own, which must not meet the project's .venv. Exact versions:
# constraints.txt (pip freeze of the venv the figures in bench/RESULTS.md came
# from). gunicorn is what pretix's install docs serve it with. pretix's wheels
# bring their C parts (psycopg2-binary, lxml, libsass), so no system packages are
# needed beyond python3 with venv; PostgreSQL and Redis are the machine's.
set -eu
cd "$(dirname "$0")"
PRETIX_VERSION=2026.8.0
GUNICORN_VERSION=27.0.1
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt \
    "pretix==$PRETIX_VERSION" "gunicorn==$GUNICORN_VERSION"
.venv/bin/python -c "import pretix; assert pretix.__version__ == '$PRETIX_VERSION', pretix.__version__"
touch .venv/.installed
