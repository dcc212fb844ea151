# syntax=docker/dockerfile:1
# The one image recipe of the four services; which service is a build argument (docker-compose.yml passes
# them). Build from the repository root, e.g.
#   docker build --build-arg SERVICE=gateway --build-arg PACKAGE=gateway --build-arg PORT=8000 -t medins/gateway .
#   (enrollment 8001, settlement 8002, SERVICE=ledger PACKAGE=fund_ledger 8003)
# The production dependencies are installed exactly as pinned, with their hashes, from requirements.lock
# (no ranges resolved at build time, no development broker); then the project itself without dependencies.
FROM python:3.11-slim

ARG SERVICE
ARG PACKAGE
ARG PORT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    MEDINS_SERVICE=${SERVICE} \
    MEDINS_PACKAGE=${PACKAGE} \
    MEDINS_PORT=${PORT}

# Build from a scratch directory that is removed afterwards, so the image only keeps the installed
# packages in site-packages (nothing shadows them from the working directory at run time). The lock is
# copied first: the dependency layer is rebuilt only when the lock changes.
WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY shared/ shared/
COPY platformctl/ platformctl/
COPY services/ services/
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/data \
    && chown -R app:app /app
WORKDIR /app
USER app

EXPOSE ${PORT}

# The slim image has no curl: probe readiness (database and broker) with the standard library.
HEALTHCHECK --interval=10s --timeout=5s --start-period=40s --retries=6 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$MEDINS_PORT/readyz', timeout=4).status == 200 else 1)"

# Apply the service's database migrations, then replace the shell with uvicorn so it receives SIGTERM; on
# uvloop and httptools, idle connections kept 75 s, as platformctl runs the services (platformctl/stack.py,
# SERVER and KEEP_ALIVE).
CMD ["sh", "-c", "python -m platformctl migrate $MEDINS_SERVICE && exec uvicorn $MEDINS_PACKAGE.main:app --host 0.0.0.0 --port $MEDINS_PORT --proxy-headers --no-access-log --loop uvloop --http httptools --timeout-keep-alive 75"]
