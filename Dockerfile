# The Driftline service and producer: `driftline` (the default command) or `driftline-producer`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# constraints.tx[t] copies constraints.txt when the checkout has it and nothing otherwise.
COPY pyproject.toml README.md constraints.tx[t] ./
COPY service ./service
COPY producer ./producer
RUN if [ -f constraints.txt ]; then set -- -c constraints.txt; fi \
    && pip install "$@" . \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin driftline \
    && mkdir -p /var/lib/driftline && chown driftline /var/lib/driftline

USER driftline

# In a container the service must listen on every interface to be reachable.
ENV DRIFTLINE_HOST=0.0.0.0 \
    DRIFTLINE_PORT=8000
EXPOSE 8000

# python:3.11-slim has no curl: ask /health with the standard library.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('DRIFTLINE_PORT', '8000'), timeout=2)"]

CMD ["driftline"]
