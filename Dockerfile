# Multi-stage build: compile with the locked dependency versions, run as a non-root user in a
# small Debian image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The allocator's build settings (jemalloc's options).
COPY .cargo ./.cargo
COPY src ./src
COPY examples ./examples
# Cargo.toml names the criterion bench, so cargo refuses the manifest without its file.
COPY benches ./benches
RUN cargo build --release --locked --bin redis-cache-exporter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter
COPY --from=build /src/target/release/redis-cache-exporter /usr/local/bin/redis-cache-exporter
USER 10001
EXPOSE 9122
ENTRYPOINT ["/usr/local/bin/redis-cache-exporter"]
CMD ["--config", "/etc/redis-cache-exporter/config.toml"]
