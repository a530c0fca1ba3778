"""Checks deploy/ as far as this machine can without Envoy or a cluster.

Envoy: deploy/envoy/envoy.yaml is parsed into Envoy's own v3 Bootstrap message from
xds-protos (the Python code generated from envoyproxy/data-plane-api), strictly: an
unknown field, a wrong type or a typed_config whose @type is not a known message fails.
Then what the schema cannot see: every cluster a route, ext_authz or jwt_authn names
exists and has the right port; the transcoder's services are in identity's descriptor
set; the headers stripped from clients are the ones identity sets.

Kubernetes: every manifest in deploy/kubernetes is validated with kubernetes-validate
(the API's OpenAPI schemas, strict) for KUBERNETES_VERSION; the Deployment's grace
period must cover its preStop, the drain and the request timeout.

Usage: python .ci/deploy_check.py target/descriptor/identity.pb
"""

import re
import sys
from pathlib import Path

import kubernetes_validate
import yaml
from google.protobuf import descriptor_pb2, json_format

# Every message an @type in envoy.yaml may name must be imported to be known.
import envoy.config.route.v3.route_components_pb2  # noqa: F401  FilterConfig
import envoy.extensions.filters.http.ext_authz.v3.ext_authz_pb2  # noqa: F401
import envoy.extensions.filters.http.grpc_json_transcoder.v3.transcoder_pb2  # noqa: F401
import envoy.extensions.filters.http.header_mutation.v3.header_mutation_pb2  # noqa: F401
import envoy.extensions.filters.http.jwt_authn.v3.config_pb2  # noqa: F401
import envoy.extensions.filters.http.router.v3.router_pb2  # noqa: F401
import envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2  # noqa: F401
import envoy.extensions.upstreams.http.v3.http_protocol_options_pb2  # noqa: F401
from envoy.config.bootstrap.v3 import bootstrap_pb2

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.33.0"  # preStop's sleep action needs 1.30 or later
GRPC_PORT = 50051
HTTP_PORT = 9464
JWKS_PATH = "/.well-known/jwks.json"

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def typed(config, suffix):
    return config.get("typed_config", {}).get("@type", "").endswith(suffix)


def cluster_port(cluster):
    endpoints = cluster["load_assignment"]["endpoints"]
    return endpoints[0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"]


def walk(value):
    """Every dict nested in value."""
    if isinstance(value, dict):
        yield value
        for nested in value.values():
            yield from walk(nested)
    elif isinstance(value, list):
        for nested in value:
            yield from walk(nested)


def check_envoy(descriptor_path):
    path = ROOT / "deploy/envoy/envoy.yaml"
    document = yaml.safe_load(path.read_text())
    try:
        json_format.ParseDict(document, bootstrap_pb2.Bootstrap())
    except json_format.ParseError as error:
        failures.append(f"{path}: not a valid Envoy v3 Bootstrap: {error}")
        return
    clusters = {cluster["name"]: cluster for cluster in document["static_resources"]["clusters"]}
    manager = document["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    check(manager.get("use_remote_address") is True, "envoy.yaml: the edge Envoy must append x-forwarded-for (use_remote_address)")
    for route in walk(manager["route_config"]):
        if "cluster" in route and isinstance(route["cluster"], str) and "match" not in route:
            check(route["cluster"] in clusters, f"envoy.yaml: a route names unknown cluster {route['cluster']}")
    filters = {entry["name"]: entry for entry in manager["http_filters"]}

    ext_authz = filters["envoy.filters.http.ext_authz"]["typed_config"]
    authz_cluster = ext_authz["grpc_service"]["envoy_grpc"]["cluster_name"]
    check(authz_cluster in clusters, f"envoy.yaml: ext_authz names unknown cluster {authz_cluster}")
    if authz_cluster in clusters:
        check(cluster_port(clusters[authz_cluster]) == GRPC_PORT, "envoy.yaml: ext_authz must call identity's gRPC port")
        options = clusters[authz_cluster].get("typed_extension_protocol_options", {})
        check("http2_protocol_options" in str(options), "envoy.yaml: the ext_authz cluster must speak HTTP/2")
    check(ext_authz.get("transport_api_version") == "V3", "envoy.yaml: ext_authz must use the v3 API identity serves")
    check(ext_authz.get("failure_mode_allow") is False, "envoy.yaml: ext_authz must fail closed")

    provider = filters["envoy.filters.http.jwt_authn"]["typed_config"]["providers"]["identity"]
    http_uri = provider["remote_jwks"]["http_uri"]
    check(http_uri["cluster"] in clusters, f"envoy.yaml: jwt_authn names unknown cluster {http_uri['cluster']}")
    check(http_uri["uri"].endswith(f":{HTTP_PORT}{JWKS_PATH}"), f"envoy.yaml: remote_jwks must fetch {JWKS_PATH} from port {HTTP_PORT}")
    if http_uri["cluster"] in clusters:
        check(cluster_port(clusters[http_uri["cluster"]]) == HTTP_PORT, "envoy.yaml: the JWKS cluster must point at the HTTP port")
    check(provider.get("issuer") == "identity" and provider.get("audiences") == ["identity"], "envoy.yaml: issuer and audience must be identity's defaults")

    descriptor = descriptor_pb2.FileDescriptorSet.FromString(Path(descriptor_path).read_bytes())
    services = {f"{file.package}.{service.name}" for file in descriptor.file for service in file.service}
    for service in filters["envoy.filters.http.grpc_json_transcoder"]["typed_config"]["services"]:
        check(service in services, f"envoy.yaml: the transcoder names {service}, which the descriptor set lacks")

    ours = set(re.findall(r'HEADER: &str = "(x-identity-[a-z-]+)"', (ROOT / "src/grpc/authorization_encoding.rs").read_text()))
    mutations = filters["envoy.filters.http.header_mutation"]["typed_config"]["mutations"]["request_mutations"]
    stripped = {mutation["remove"] for mutation in mutations if "remove" in mutation}
    check(ours and stripped == ours, f"envoy.yaml: strips {sorted(stripped)} from clients, identity sets {sorted(ours)}")


def check_kubernetes():
    directory = ROOT / "deploy/kubernetes"
    documents = []
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is None or document.get("kind") == "Kustomization":
                continue
            try:
                kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                failures.append(f"{path.name}: {document['kind']} {document['metadata']['name']}: {error.message}")
            documents.append(document)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    for path in directory.glob("*.yaml"):
        if path.name not in ("kustomization.yaml", "secret.yaml"):
            check(path.name in kustomization["resources"], f"kustomization.yaml does not list {path.name}")
    deployment = next(document for document in documents if document["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {variable["name"]: variable.get("value") for variable in container.get("env", [])}
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(env.get("IDENTITY_SHUTDOWN_DRAIN_SECS", 5))
    request_timeout = int(env.get("IDENTITY_GRPC_REQUEST_TIMEOUT_SECS", 30))
    check(
        pod["terminationGracePeriodSeconds"] >= pre_stop + drain + request_timeout,
        "deployment.yaml: terminationGracePeriodSeconds must cover preStop + drain + request timeout",
    )
    check("IDENTITY_TRUSTED_PROXIES" in env, "deployment.yaml: IDENTITY_TRUSTED_PROXIES is not set")
    check(any(document["kind"] == "PodDisruptionBudget" for document in documents), "no PodDisruptionBudget")


def main():
    check_envoy(sys.argv[1])
    check_kubernetes()
    for failure in failures:
        print(f"deploy check: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"deploy check: envoy.yaml is a valid Envoy v3 Bootstrap and consistent; deploy/kubernetes valid for Kubernetes {KUBERNETES_VERSION}")


main()
