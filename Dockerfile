# faceaudit's REST service in a container: `docker build -t faceaudit .` (see README, "Docker").
# The models come from the dlib-bin and face-recognition-models wheels: nothing is downloaded
# at run time. All state (the deployment home and the cache) lives on the /data volume, or the
# gallery and ledger in PostgreSQL with FACEAUDIT_DATABASE_URL (docker-compose.yml, docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACEAUDIT_HOME=/data/home \
    FACEAUDIT_CACHE=/data/cache \
    MPLCONFIGDIR=/data/cache/matplotlib

WORKDIR /opt/faceaudit
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[postgres]" \
    && rm -rf /opt/faceaudit/src \
    && groupadd --system --gid 10001 faceaudit \
    && useradd --system --uid 10001 --gid faceaudit --home-dir /data --no-create-home faceaudit \
    && mkdir -p /data \
    && chown faceaudit:faceaudit /data

VOLUME ["/data"]
USER 10001:10001
WORKDIR /data
EXPOSE 8000

ENTRYPOINT ["faceaudit"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
