# krtracker: API and sampler in one process. Build: docker build -t krtracker .
# Run:  docker run -p 8080:8080 -v "$PWD/krtracker.toml:/config/krtracker.toml:ro" \
#         -v krtracker-data:/data -e KRTRACKER_WRITE_TOKEN=... krtracker
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY connectors ./connectors
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KRTRACKER_DATABASE_URL=sqlite:////data/krtracker.db
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --create-home krtracker \
    && mkdir -p /config && chown krtracker /data
USER krtracker
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# The config is mounted read-only at /config/krtracker.toml; secrets come from the environment.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["krtracker"]
CMD ["serve", "--config", "/config/krtracker.toml", "--host", "0.0.0.0", "--port", "8080"]
