# syntax=docker/dockerfile:1
# Build stage: build the router's wheel (migrations, templates and alembic.ini inside it) and install it,
# with its dependencies, into a virtualenv.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml setup.py README.md alembic.ini ./
COPY router ./router
COPY migrations ./migrations
COPY templates ./templates
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /dist/router-*.whl

# Runtime stage: only the virtualenv; a non-root user; data (the SQLite default) in /data.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    ROUTER_HOST=0.0.0.0 \
    ROUTER_DATABASE_URL=sqlite+aiosqlite:////data/router.db
RUN useradd --create-home --uid 10001 router && mkdir -p /data && chown router /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /data
USER 10001
EXPOSE 8082
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=2).status == 200 else 1)"
# The exec form: SIGTERM reaches the router itself, which drains before it exits.
CMD ["router", "serve", "--host", "0.0.0.0", "--port", "8082"]
