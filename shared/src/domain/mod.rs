//! The Kubernetes and KubeSphere facts the plugins judge by, each stated once: pure functions
//! over k8s-openapi types (and the suite's summaries), used by every plugin that needs them.
//! Each plugin words its findings itself; what is true of an object is decided here.
//!
//! Layers: [`crate::model`] at the bottom, then this module, then each plugin's checks and its
//! report. Nothing here imports a plugin.

pub mod admission;
pub mod apiservices;
pub mod helm;
pub mod nodes;
pub mod pods;
pub mod skew;
pub mod storage;
pub mod workloads;
