# Build stage: compiles the release binary (protos are compiled in Rust, no protoc).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin identity

# Runtime stage: a small image, non-root.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/identity --create-home identity
COPY --from=build /src/target/release/identity /usr/local/bin/identity
USER identity
WORKDIR /var/lib/identity
ENV IDENTITY_GRPC_ADDR=0.0.0.0:50051 \
    IDENTITY_LOG_FORMAT=json
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/identity"]
CMD ["serve"]
