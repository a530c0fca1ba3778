//! `identity`: a gRPC identity service. Layers point one way:
//! `grpc` → `services` / `email` → `repositories` → `entities` → database.

/// Every allocation of the service, of its load tool and of its tests goes through
/// mimalloc, so what the tests and benchmarks run is what production runs. Under glibc's
/// malloc, allocation and freeing took 12 % of a bearer check's CPU (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod auth;
pub mod cli;
pub mod clock;
pub mod configuration;
pub mod console;
pub mod database;
pub mod domain;
pub mod email;
pub mod entities;
pub mod grpc;
pub mod observability;
pub mod parser_invariants;
pub mod proto;
pub mod purge_scheduler;
pub mod rate_limit;
pub mod repositories;
pub mod services;
pub mod startup;
