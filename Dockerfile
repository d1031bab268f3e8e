# syntax=docker/dockerfile:1
# Build stage: install the package and its dependencies into a virtualenv.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY router ./router
# Dependencies only: the service runs from /app (with its migrations and templates beside it).
RUN /opt/venv/bin/pip install . && /opt/venv/bin/pip uninstall -y router

# Runtime stage: the virtualenv, migrations and templates; a non-root user; data in /data.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PYTHONPATH=/app \
    ROUTER_DATABASE_URL=sqlite+aiosqlite:////data/router.db
RUN useradd --create-home --uid 10001 router && mkdir -p /data && chown router /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY router ./router
USER router
EXPOSE 8082
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=2).status == 200 else 1)"
CMD ["python", "-m", "router", "serve", "--host", "0.0.0.0", "--port", "8082"]
