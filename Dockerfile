# Build: docker build -t countersign .
# Run:   docker run -p 8080:8080 -v countersign:/var/lib/countersign countersign

# The toolchain of rust-toolchain.toml. That file is not copied in: it would
# make rustup fetch rustfmt and clippy, which a release build does not use.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
# Every target the manifest names must be present for it to parse.
COPY benches ./benches
COPY examples ./examples
COPY tests ./tests
RUN cargo build --release --locked --bin countersign

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/countersign --create-home countersign
COPY --from=build /src/target/release/countersign /usr/local/bin/countersign
USER countersign
WORKDIR /var/lib/countersign
ENV COUNTERSIGN_SERVER__BIND=0.0.0.0:8080 \
    COUNTERSIGN_DATABASE__URL=sqlite:///var/lib/countersign/countersign.db \
    COUNTERSIGN_LOG__FORMAT=json
VOLUME ["/var/lib/countersign"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["countersign"]
CMD ["serve"]
