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
    /// Its labels and selectable fields, for selector scans.
    pub sel: Selectable,
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
        let sel = Selectable::new(&value);
        Arc::new(Stored {
            value,
            json,
            rv,
            sel,
        })
    }
}

/// An object's labels and the values of the field selectors its kind supports, copied into one
/// string, so that a label or field selector over 100,000 pods reads one small allocation per
/// object instead of walking each object's JSON tree (which made such a list take ~200 ms).
#[derive(Debug, Default)]
pub struct Selectable {
    /// `key=value` of each label, then of each field, concatenated.
    text: Box<str>,
    /// Per entry: key end, value end (offsets into `text`; an entry starts where the previous
    /// ended). The first `labels` entries are labels.
    ends: Box<[(u32, u32)]>,
    labels: u16,
    /// The fields of the kind (absent fields are not stored; they read as absent).
    fields: &'static [&'static str],
}

impl Selectable {
    fn new(v: &Value) -> Self {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        let fields = crate::selectors::kind_fields(kind);
        let mut text = String::new();
        let mut ends = Vec::new();
        let mut push = |text: &mut String, k: &str, val: &str| {
            text.push_str(k);
            let ke = text.len();
            text.push_str(val);
            ends.push((ke as u32, text.len() as u32));
        };
        let mut labels = 0u16;
        if let Some(l) = v.pointer("/metadata/labels").and_then(Value::as_object) {
            for (k, val) in l {
                if let Some(val) = val.as_str() {
                    push(&mut text, k, val);
                    labels += 1;
                }
            }
        }
        for f in fields {
            if let Some(val) = crate::selectors::field_present(v, f) {
                push(&mut text, f, &val);
            }
        }
        if text.len() > u32::MAX as usize {
            return Selectable::default();
        }
        Selectable {
            text: text.into(),
            ends: ends.into(),
            labels,
            fields,
        }
    }

    fn entries(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        let mut start = 0usize;
        self.ends.iter().enumerate().map(move |(i, &(ke, ve))| {
            let (ke, ve) = (ke as usize, ve as usize);
            let k = &self.text[start..ke];
            let v = &self.text[ke..ve];
            start = ve;
            (i, k, v)
        })
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.entries()
            .take(usize::from(self.labels))
            .find(|(_, k, _)| *k == key)
            .map(|(_, _, v)| v)
    }

    /// The value of a field: `Some(Some(v))` present, `Some(None)` absent, `None` when the field
    /// is not one of the precomputed ones.
    pub fn field(&self, field: &str) -> Option<Option<&str>> {
        if !self.fields.contains(&field) {
            return None;
        }
        Some(
            self.entries()
                .skip(usize::from(self.labels))
                .find(|(_, k, _)| *k == field)
                .map(|(_, _, v)| v),
        )
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
    /// Whether the API server side of the controllers (defaults, allocations, delete
    /// propagation; see `controllers`) applies.
    pub controllers: bool,
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
            controllers: false,
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
