# Sportello image: the same install as a systemd host (deploy/install.sh), run as a non-root user
# with the code read-only. deploy/ stays the tested reference (tests/ops/test_multinode.py).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client poppler-utils curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/sportello --create-home sportello

COPY . /src
RUN /src/deploy/install.sh /opt/sportello && rm -rf /src

ENV PATH=/opt/sportello/venv/bin:$PATH \
    SPORTELLO_VAR_DIR=/var/lib/sportello \
    PROMETHEUS_MULTIPROC_DIR=/tmp/sportello-metrics \
    SPORTELLO_BIND=0.0.0.0:8000
WORKDIR /opt/sportello/app
USER sportello
VOLUME ["/var/lib/sportello"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1

CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
