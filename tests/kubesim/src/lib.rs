//! kubesim: an in-memory Kubernetes API server that the real `kubectl` accepts, for tests,
//! demos and benchmarks.
//!
//! ```no_run
//! let sim = kubesim::Sim::builder().scenario("empty").user("alice", "alice-token", &["devs"]).start()?;
//! sim.write_kubeconfig("/tmp/kubeconfig")?;
//! let ns = sim.get_json("/api/v1/namespaces/default")?;
//! assert_eq!(ns["metadata"]["name"], "default");
//! # Ok::<(), kubesim::SimError>(())
//! ```
//!
//! Modules: [`api`] handles requests (transport-free), [`server`] is the HTTP(S) transport,
//! [`store`] holds objects, [`registry`] the served resources, [`scenario`] loads clusters,
//! [`faults`] injects failures and counts requests, [`controllers`] (opt-in) roll workloads out,
//! [`cost`] gives responses a real server's costs and gzip.

pub mod api;
pub mod auth;
pub mod controllers;
pub mod cost;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod patch;
pub mod proto;
pub mod registry;
pub mod scenario;
pub mod selectors;
pub mod server;
pub mod sim;
pub mod store;
pub mod table;
pub mod tls;

pub use cost::{Cost, CostModel, RequestRecord};
pub use error::ApiError;
pub use faults::{CounterSnapshot, Fault, FaultRule};
pub use sim::{Sim, SimBuilder, SimError};
