# Sealtrail in a container: built in a Rust image, run as an unprivileged user in a slim
# Debian image, the data directory a volume, the health check the server's /healthz.
#
#   docker build -t sealtrail .
#   docker run -d -p 8080:8080 -v sealtrail-data:/var/lib/sealtrail --name sealtrail sealtrail
#   docker logs sealtrail        # the URL and, on the first start, the admin key and password
#
# This file is checked by the test suite (stages, user, volume, health check) but not built
# there: the CI machine has no Docker daemon. See docs/operations.md.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sealtrail

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/sealtrail --shell /usr/sbin/nologin sealtrail \
 && mkdir -p /var/lib/sealtrail \
 && chown sealtrail:sealtrail /var/lib/sealtrail \
 && chmod 0700 /var/lib/sealtrail
COPY --from=build /src/target/release/sealtrail /usr/local/bin/sealtrail
USER sealtrail:sealtrail
ENV SEALTRAIL_DATA_DIR=/var/lib/sealtrail \
    SEALTRAIL_LISTEN=0.0.0.0:8080 \
    SEALTRAIL_LOG_FORMAT=json
VOLUME ["/var/lib/sealtrail"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sealtrail"]
CMD ["serve"]
