//! kubesim: an in-memory Kubernetes API server for tests, demos and benchmarks.
