# amtsbote container image: a Rust build stage and a small Debian runtime.
#
#   docker build -t amtsbote .
#   docker run -v ./amtsbote.toml:/etc/amtsbote/amtsbote.toml:ro -p 8470:8470 amtsbote
#
# The configuration must listen on 0.0.0.0 inside the container (server.listen).

FROM rust:1-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends libxml2-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin amtsbote \
    && install -D -m 0755 target/release/amtsbote /out/amtsbote

FROM debian:bookworm-slim
# curl only for the health check below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libxml2 libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that volumes and Kubernetes securityContext can name it.
RUN groupadd --system --gid 10001 amtsbote \
    && useradd --system --uid 10001 --gid amtsbote --home-dir /var/lib/amtsbote --shell /usr/sbin/nologin amtsbote \
    && install -d -o amtsbote -g amtsbote -m 0750 /var/lib/amtsbote /etc/amtsbote /etc/amtsbote/conf.d
COPY --from=builder /out/amtsbote /usr/local/bin/amtsbote
# Schema packs are compiled into the binary; example mappings and messages for `amtsbote demo`
# and for operators to start from.
COPY examples /usr/share/amtsbote/examples
USER 10001:10001
WORKDIR /var/lib/amtsbote
ENV AMTSBOTE_CONFIG=/etc/amtsbote/amtsbote.toml
EXPOSE 8470
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8470/healthz || exit 1
ENTRYPOINT ["amtsbote"]
CMD ["run", "--config", "/etc/amtsbote/amtsbote.toml"]
