//! What a transcoding gateway (Envoy's gRPC-JSON transcoder, grpc-gateway) reads: the
//! descriptor set, compiled in and written by `identity descriptor --out FILE`, gives
//! every identity.v1 RPC a `google.api.http` rule: POST with the whole request as body
//! for commands, GET for reads, paths under `/v1/` naming real request fields; and it
//! holds the error detail types, so a gateway can render an error status as JSON.

use std::collections::HashSet;

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};

use crate::operator_cli::run_identity;
use crate::test_app::temporary_dir;

const SERVICES: [&str; 4] = [
    "identity.v1.AccountService",
    "identity.v1.TokenService",
    "identity.v1.AdminService",
    "identity.v1.EventService",
];

/// One HTTP binding of an RPC: verb, path template and body selector.
#[derive(Debug)]
struct HttpBinding {
    verb: &'static str,
    path: String,
    body: String,
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    message
        .get_field_by_name(name)
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The bindings of one `HttpRule` (its own and its `additional_bindings`).
fn bindings(rule: &DynamicMessage) -> Vec<HttpBinding> {
    let verbs = ["get", "put", "post", "delete", "patch"];
    let set: Vec<&'static str> = verbs
        .into_iter()
        .filter(|verb| rule.has_field_by_name(verb))
        .collect();
    assert_eq!(set.len(), 1, "exactly one HTTP verb per binding: {rule:?}");
    let mut all = vec![HttpBinding {
        verb: set[0],
        path: string_field(rule, set[0]),
        body: string_field(rule, "body"),
    }];
    let additional = rule.get_field_by_name("additional_bindings").unwrap();
    for nested in additional.as_list().unwrap() {
        all.extend(bindings(nested.as_message().unwrap()));
    }
    all
}

/// The `google.api.http` rule of `method`, if it carries one.
fn http_rule(pool: &DescriptorPool, method: &MethodDescriptor) -> Option<DynamicMessage> {
    let extension = pool
        .get_extension_by_name("google.api.http")
        .expect("google/api/annotations.proto is in the set");
    let options = method.options();
    options
        .has_extension(&extension)
        .then(|| options.get_extension(&extension).as_message().unwrap().clone())
}

/// The `{field}` names of a path template.
fn path_variables(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .map(|rest| {
            let end = rest.find(['}', '=']).expect("a closed path variable");
            rest[..end].to_owned()
        })
        .collect()
}

/// Asserts the gateway rules of every identity.v1 RPC in the encoded set `bytes`.
fn assert_every_rpc_has_a_sound_http_rule(bytes: &[u8]) {
    let pool = DescriptorPool::decode(bytes).expect("the descriptor set decodes");
    let mut routes = HashSet::new();
    let mut rpcs = 0;
    for name in SERVICES {
        let service = pool
            .get_service_by_name(name)
            .unwrap_or_else(|| panic!("{name} is in the set"));
        for method in service.methods() {
            rpcs += 1;
            let rpc = method.full_name().to_owned();
            let rule =
                http_rule(&pool, &method).unwrap_or_else(|| panic!("{rpc} has no google.api.http rule"));
            for binding in bindings(&rule) {
                assert!(binding.path.starts_with("/v1/"), "{rpc}: {binding:?}");
                match binding.verb {
                    "post" => assert_eq!(binding.body, "*", "{rpc}: a command sends its whole request"),
                    "get" => assert_eq!(binding.body, "", "{rpc}: a read has no body"),
                    other => panic!("{rpc}: {other} instead of POST or GET"),
                }
                for variable in path_variables(&binding.path) {
                    assert!(
                        method.input().get_field_by_name(&variable).is_some(),
                        "{rpc}: path variable {variable} is not a field of {}",
                        method.input().full_name()
                    );
                }
                assert!(
                    routes.insert((binding.verb, binding.path.clone())),
                    "{rpc}: {} {} is bound twice",
                    binding.verb,
                    binding.path
                );
            }
        }
    }
    assert_eq!(rpcs, 49, "every RPC of DESIGN.md was checked");
    // Envoy's convert_grpc_status renders an error as google.rpc.Status JSON only when
    // the set holds the detail types the status carries.
    for detail in [
        "google.rpc.Status",
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
    ] {
        assert!(
            pool.get_message_by_name(detail).is_some(),
            "{detail} is in the set"
        );
    }
}

#[test]
fn the_compiled_descriptor_set_gives_every_rpc_an_http_rule() {
    assert_every_rpc_has_a_sound_http_rule(identity::proto::FILE_DESCRIPTOR_SET);
}

#[tokio::test]
async fn the_descriptor_subcommand_writes_a_set_with_every_http_rule() {
    let dir = temporary_dir("identity-descriptor-");
    let out = dir.path().join("identity.pb");
    let out_arg = out.to_str().expect("a UTF-8 path");

    let run = run_identity("sqlite::memory:", &["descriptor", "--out", out_arg], None, &[]).await;

    assert!(run.status.success(), "{run:#?}");
    let written = std::fs::read(&out).expect("the descriptor file exists");
    assert_every_rpc_has_a_sound_http_rule(&written);
}
