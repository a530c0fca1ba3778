# syntax=docker/dockerfile:1
# Three targets: `build` (compiles), `runtime` (the service; the default, last stage) and
# `envoy` (the REST/JSON gateway with the descriptor set of the same build baked in).

# Build: the release binary and the descriptor set for gateways. The protos compile in
# Rust (protox), so no protoc; cache mounts keep the registry and target between builds.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin identity \
    && install -D target/release/identity /out/identity \
    && /out/identity descriptor --out /out/identity.pb \
    && install -d -o 65532 -g 65532 /out/data

# Envoy with the gRPC-JSON transcoder on :8080 (deploy/envoy/envoy.yaml).
FROM envoyproxy/envoy:v1.34-latest AS envoy
COPY deploy/envoy/envoy.yaml /etc/envoy/envoy.yaml
COPY --from=build /out/identity.pb /etc/envoy/identity.pb

# Runtime: distroless (glibc and CA certificates, no shell, no package manager), running
# as the unprivileged `nonroot` user (65532). The health check speaks the gRPC health
# protocol through the binary itself: `identity health-check` exits 0 only on SERVING.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/identity /usr/local/bin/identity
COPY --from=build --chown=65532:65532 /out/data /var/lib/identity
USER 65532:65532
WORKDIR /var/lib/identity
ENV IDENTITY_GRPC_ADDR=0.0.0.0:50051 \
    IDENTITY_DATA_DIR=/var/lib/identity \
    IDENTITY_MAIL_DIR=/var/lib/identity/mail \
    IDENTITY_LOG_FORMAT=json
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/identity", "health-check", "--timeout-secs", "3"]
ENTRYPOINT ["/usr/local/bin/identity"]
CMD ["serve"]
