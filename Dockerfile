# Multi-stage build: compile with the Rust toolchain, run on a slim Debian with CA
# certificates (for the WeChat API over HTTPS) as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY server server
COPY migration migration
COPY tests tests
COPY vendor vendor
RUN cargo build --release --locked -p linli-server \
 && strip target/release/linli

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin linli
COPY --from=build /src/target/release/linli /usr/local/bin/linli
USER 10001:10001
ENV BIND=0.0.0.0:8080 METRICS_BIND=0.0.0.0:9464 APP_ENV=production LOG_FORMAT=json
# glibc's allocator tunables (glibc manual, "Memory Allocation Tunables"): two arenas, and
# blocks of 128 KiB and up mapped on their own with the heap trimmed above 128 KiB, so what
# a burst (a dispatch of 100,000 reminders) freed goes back to the system: 57 MiB a minute
# after it, against 104 MiB with glibc's defaults (bench/RESULTS.md, round three).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/linli"]
CMD ["serve"]
