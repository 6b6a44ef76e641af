//! The object store: every object with its serialized JSON precomputed (lists are written by
//! concatenating those bytes), the global resourceVersion counter, and the watch event log and
//! broadcast that `?watch=true` streams read.

use crate::registry::Registry;
use hyper::body::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many past events are kept to serve a watch from an older resourceVersion.
const HISTORY: usize = 50_000;

/// One stored object.
#[derive(Debug)]
pub struct Stored {
    /// The object (with `kind` and `apiVersion`).
    pub value: Value,
    /// Its JSON serialization.
    pub json: Bytes,
    /// Its resourceVersion.
    pub rv: u64,
}

impl Stored {
    /// Wraps a value, serializing it once.
    pub fn new(value: Value) -> Arc<Self> {
        let rv = value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Arc::new(Stored { value, json, rv })
    }
}

/// A change, as watch streams report it.
#[derive(Debug)]
pub struct Event {
    /// `group/plural` of the object.
    pub key: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (for DELETED: the last state, with the delete's resourceVersion).
    pub obj: Arc<Stored>,
}

/// The key of an object inside one resource: `(namespace, name)`.
pub type ObjKey = (String, String);

/// All state behind the API: registry, objects, counters.
#[derive(Debug)]
pub struct Store {
    /// Served resources (built-in plus CRDs).
    pub registry: Registry,
    /// Last issued resourceVersion.
    pub rv: u64,
    /// Objects by `group/plural`, then `(namespace, name)` (sorted, for paging).
    pub objects: HashMap<String, BTreeMap<ObjKey, Arc<Stored>>>,
    /// Recent events, oldest first.
    pub history: VecDeque<Arc<Event>>,
    /// Live events for watchers.
    pub tx: broadcast::Sender<Arc<Event>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store serving the built-in resources.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(16_384);
        Store {
            registry: Registry::builtin(),
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            tx,
        }
    }

    /// Allocates the next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Reads one object.
    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Stored>> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Whether a namespace exists.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.get("/namespaces", "", ns).is_some()
    }

    /// Stores an object and records the event.
    pub fn put(&mut self, key: &str, kind: &'static str, obj: Arc<Stored>) {
        let ns = obj
            .value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = obj
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        self.objects
            .entry(key.to_string())
            .or_default()
            .insert((ns, name), obj.clone());
        self.emit(key, kind, obj);
    }

    /// Inserts without recording an event (bulk loading of generated scenarios).
    pub fn put_silent(&mut self, key: &str, obj: Arc<Stored>) {
        let ns = obj
            .value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = obj
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        self.objects
            .entry(key.to_string())
            .or_default()
            .insert((ns, name), obj);
    }

    /// Removes an object, emitting DELETED with a fresh resourceVersion.
    pub fn remove(&mut self, key: &str, ns: &str, name: &str) -> Option<Arc<Stored>> {
        let old = self
            .objects
            .get_mut(key)?
            .remove(&(ns.to_string(), name.to_string()))?;
        let rv = self.next_rv();
        let mut v = old.value.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let gone = Stored::new(v);
        self.emit(key, "DELETED", gone.clone());
        Some(gone)
    }

    fn emit(&mut self, key: &str, kind: &'static str, obj: Arc<Stored>) {
        let ev = Arc::new(Event {
            key: key.to_string(),
            kind,
            obj,
        });
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }

    /// The oldest resourceVersion a watch can resume from.
    pub fn oldest_watchable_rv(&self) -> u64 {
        self.history
            .front()
            .map(|e| e.obj.rv.saturating_sub(1))
            .unwrap_or(self.rv)
    }
}
