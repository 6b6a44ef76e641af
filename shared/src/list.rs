//! Bounded, paginated reads with retries.
//!
//! Every list goes through here: pages of [`PAGE_SIZE`] with `limit`/`continue`, so memory and
//! request size stay bounded on a 100,000-pod cluster (the next page is asked for while the
//! current one is decoded, so at most two are held); metadata-only when the caller needs no
//! spec or status; and reads retried on 429, 5xx and dropped connections with backoff. Writes are
//! never retried here: only the caller knows whether a write is safe to repeat.

use std::{
    collections::HashSet,
    fmt::Debug,
    future::Future,
    hash::{Hash, Hasher},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, Resource,
    api::{ListParams, ObjectList, PartialObjectMeta},
};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Objects per page.
pub const PAGE_SIZE: u32 = 500;
/// Attempts for one read, the first included.
pub const READ_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// True for errors that a repeated read may not meet again: 429, 5xx, transport failures.
///
/// Not a 504 Timeout: the API server already waited its whole request timeout (etcd or a
/// webhook did not answer), so another try would only wait as long again. Not the run's
/// `--deadline` running out either.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            status.code == 429 || (status.code >= 500 && status.code != 504)
        }
        kube::Error::Service(e) if crate::error::find_deadline(e.as_ref()).is_some() => false,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Runs a read, retrying transient failures with exponential backoff.
pub async fn retry_read<T, F, Fut>(action: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < READ_ATTEMPTS && is_transient(&e) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(Error::api(action, e)),
        }
    }
}

/// Lists of at most this many tries: the first, and one restart after each expired `continue`.
pub const LIST_ATTEMPTS: u32 = 3;

static CHUNK_SIZE: AtomicU32 = AtomicU32::new(PAGE_SIZE);

/// Sets the page size of every list (`--chunk-size`, as kubectl's; 0: one request, no pages).
pub fn set_page_size(size: u32) {
    CHUNK_SIZE.store(size, Ordering::Relaxed);
}

/// The page size of every list: [`PAGE_SIZE`] unless `--chunk-size` said otherwise.
pub fn page_size() -> u32 {
    CHUNK_SIZE.load(Ordering::Relaxed)
}

/// True when the server answered 410 Gone, reason Expired: a `continue` token older than the
/// storage's history (etcd compacted the revision the list is pinned to).
pub fn is_expired(err: &Error) -> bool {
    matches!(err, Error::Api { source, .. }
        if matches!(source.as_ref(), kube::Error::Api(s) if s.code == 410 && s.reason == "Expired"))
}

/// What a restarted list does with the objects it has already handed over.
enum Restart {
    /// The caller discards them (a list collected into one vector): it is told of the restart
    /// ([`Handed::Restarted`]) and everything is handed over again.
    Again,
    /// The caller has acted on them (a stream): hand over only the objects not seen yet, by
    /// namespace and name (a 64-bit hash each, so 100,000 objects cost under 2 MB).
    SkipSeen(HashSet<u64>),
}

/// What the paging loop hands its caller.
enum Handed<T> {
    /// The next page's objects.
    Page(Vec<T>),
    /// The list starts again from its first page ([`Restart::Again`] only).
    Restarted,
}

fn key_hash(meta: &ObjectMeta) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    meta.namespace.hash(&mut h);
    meta.name.hash(&mut h);
    h.finish()
}

/// One page as it came: the body, not decoded yet, and the `continue` token, read first.
struct RawPage {
    body: String,
    next: Option<String>,
}

/// What a page says of the list before its items: the `continue` token. Reading it skims the
/// items (the parser skips them without allocating).
#[derive(serde::Deserialize)]
struct ListHead {
    #[serde(default)]
    metadata: ListHeadMeta,
}

#[derive(serde::Deserialize, Default)]
struct ListHeadMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

type PageFuture = std::pin::Pin<
    Box<dyn Future<Output = std::result::Result<RawPage, kube::Error>> + Send + 'static>,
>;

/// Reads the pages of `api`'s list (`metadata`: `as=PartialObjectMetadataList`), undecoded.
fn page_reader<K>(
    api: &Api<K>,
    metadata: bool,
) -> impl Fn(ListParams) -> PageFuture + Clone + Send + Sync + 'static
where
    K: Resource + Clone,
{
    let client = api.clone().into_client();
    let url = api.resource_url().to_string();
    move |p: ListParams| {
        let (client, url) = (client.clone(), url.clone());
        Box::pin(async move {
            let r = kube::core::Request::new(url);
            let mut req = if metadata {
                r.list_metadata(&p)
            } else {
                r.list(&p)
            }
            .map_err(kube::Error::BuildRequest)?;
            req.extensions_mut().insert("list");
            raw_page(client.request_text(req).await?)
        }) as PageFuture
    }
}

/// A page's body with its `continue` token read (`None` when empty: the last page).
fn raw_page(body: String) -> std::result::Result<RawPage, kube::Error> {
    let head: ListHead = serde_json::from_str(&body).map_err(kube::Error::SerdeError)?;
    let next = head.metadata.continue_.filter(|c| !c.is_empty());
    Ok(RawPage { body, next })
}

/// Decodes a page's items.
fn decode_items<T: DeserializeOwned + Clone>(
    body: &str,
) -> std::result::Result<Vec<T>, kube::Error> {
    serde_json::from_str::<ObjectList<T>>(body)
        .map(|list| list.items)
        .map_err(kube::Error::SerdeError)
}

/// The next page, asked for while the current one is decoded; not wanted any more once dropped.
struct Ahead(tokio::task::JoinHandle<Result<RawPage>>);

impl Ahead {
    async fn page(mut self) -> Result<RawPage> {
        match (&mut self.0).await {
            Ok(page) => page,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Interrupted),
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The paging loop every list goes through. The next page is asked for as soon as this one's
/// `continue` token is read, before its items are decoded, so decoding a page overlaps the
/// server's time for the next. A `continue` token that expires half-way (410 Expired) restarts
/// the list from its first page, at most [`LIST_ATTEMPTS`] times in all, as client-go's pager
/// falls back to a new list when its token expires (there one full list:
/// k8s.io/client-go tools/pager/pager.go); here the restart is paged too, to keep memory
/// bounded. A list the caller started from its own `continue` token cannot be restarted (the
/// objects before it are the caller's): its expiry is returned.
async fn paged<T, F>(
    params: &ListParams,
    action: &str,
    fetch: F,
    mut restart: Restart,
    mut each: impl FnMut(Handed<T>),
) -> Result<()>
where
    T: Resource + DeserializeOwned + Clone,
    F: Fn(ListParams) -> PageFuture + Clone + Send + Sync + 'static,
{
    let first = params.clone().limit(page_size());
    let resumable = params.continue_token.as_deref().is_none_or(str::is_empty);
    let mut attempt = 1;
    let mut params = first.clone();
    let mut ahead: Option<Ahead> = None;
    loop {
        let page = match ahead.take() {
            Some(next) => next.page().await,
            None => retry_read(action, || fetch(params.clone())).await,
        };
        let RawPage { body, next } = match page {
            Ok(page) => page,
            Err(e) if is_expired(&e) && resumable && params.continue_token.is_some() => {
                if attempt >= LIST_ATTEMPTS {
                    return Err(Error::ListExpired {
                        action: action.to_string(),
                        attempts: attempt,
                    });
                }
                attempt += 1;
                if let Restart::Again = restart {
                    each(Handed::Restarted);
                }
                params = first.clone();
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(token) = &next {
            params = params.continue_token(token);
            let (fetch, p, action) = (fetch.clone(), params.clone(), action.to_string());
            ahead = Some(Ahead(tokio::spawn(async move {
                retry_read(&action, || fetch(p.clone())).await
            })));
        }
        let items: Vec<T> = decode_items(&body).map_err(|e| Error::api(action, e))?;
        drop(body);
        match &mut restart {
            Restart::Again => each(Handed::Page(items)),
            Restart::SkipSeen(seen) => {
                let fresh: Vec<T> = items
                    .into_iter()
                    .filter(|o| seen.insert(key_hash(o.meta())))
                    .collect();
                each(Handed::Page(fresh));
            }
        }
        if next.is_none() {
            return Ok(());
        }
    }
}

/// Streams a list page by page to `each` (objects a restarted list already handed over are not
/// handed over again).
async fn stream_pages<T, F>(
    params: &ListParams,
    action: &str,
    fetch: F,
    mut each: impl FnMut(Vec<T>),
) -> Result<()>
where
    T: Resource + DeserializeOwned + Clone,
    F: Fn(ListParams) -> PageFuture + Clone + Send + Sync + 'static,
{
    let restart = Restart::SkipSeen(HashSet::new());
    paged(params, action, fetch, restart, |h| {
        if let Handed::Page(page) = h {
            each(page);
        }
    })
    .await
}

/// Collects a whole list into one vector (a restarted list starts the vector again).
async fn collect<T, F>(params: &ListParams, action: &str, fetch: F) -> Result<Vec<T>>
where
    T: Resource + DeserializeOwned + Clone,
    F: Fn(ListParams) -> PageFuture + Clone + Send + Sync + 'static,
{
    let mut all = Vec::new();
    paged(params, action, fetch, Restart::Again, |h| match h {
        Handed::Page(page) => all.extend(page),
        Handed::Restarted => all.clear(),
    })
    .await?;
    Ok(all)
}

/// Lists every object, page by page, calling `each` with each page (objects a restarted list
/// already handed over are not handed over again).
pub async fn for_each_page<K, F>(
    api: &Api<K>,
    params: &ListParams,
    action: &str,
    each: F,
) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    F: FnMut(Vec<K>),
{
    stream_pages(params, action, page_reader(api, false), each).await
}

/// Lists every object into one vector.
pub async fn list_all<K>(api: &Api<K>, params: &ListParams, action: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    collect(params, action, page_reader(api, false)).await
}

/// Lists the metadata of every object (`as=PartialObjectMetadataList`), page by page, calling
/// `each` with each page: only one page is held at a time.
pub async fn for_each_metadata_page<K, F>(
    api: &Api<K>,
    params: &ListParams,
    action: &str,
    each: F,
) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    F: FnMut(Vec<PartialObjectMeta<K>>),
{
    stream_pages(params, action, page_reader(api, true), each).await
}

/// Lists the metadata of every object (`as=PartialObjectMetadataList`) into one vector.
pub async fn list_all_metadata<K>(
    api: &Api<K>,
    params: &ListParams,
    action: &str,
) -> Result<Vec<PartialObjectMeta<K>>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    collect(params, action, page_reader(api, true)).await
}

/// Gets one object, `None` when it does not exist.
pub async fn get_opt<K>(api: &Api<K>, name: &str, action: &str) -> Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match retry_read(action, || api.get(name)).await {
        Ok(obj) => Ok(Some(obj)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16) -> kube::Error {
        let mut s = Status::failure("x", "y");
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn only_overload_and_server_errors_are_transient() {
        assert!(is_transient(&api_error(429)));
        assert!(is_transient(&api_error(503)));
        assert!(
            !is_transient(&api_error(504)),
            "the server already waited its timeout"
        );
        let stalled = kube::Error::Service(Box::new(crate::client::DeadlineExceeded {
            request: "GET /api/v1/nodes".into(),
            deadline: Duration::from_secs(120),
        }));
        assert!(!is_transient(&stalled));
        assert!(!is_transient(&api_error(403)));
        assert!(!is_transient(&api_error(404)));
        assert!(!is_transient(&api_error(409)));
    }

    #[test]
    fn a_page_s_continue_token_is_read_before_its_items_are_decoded() {
        let page = |meta: &str| {
            format!(
                r#"{{"kind":"PodList","apiVersion":"v1","metadata":{meta},"items":[{{"metadata":{{"name":"a","namespace":"n"}},"spec":{{"containers":[]}}}}]}}"#
            )
        };
        let raw = raw_page(page(r#"{"resourceVersion":"7","continue":"abc"}"#)).unwrap();
        assert_eq!(raw.next.as_deref(), Some("abc"));
        let items: Vec<k8s_openapi::api::core::v1::Pod> = decode_items(&raw.body).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].metadata.name.as_deref(), Some("a"));
        // The last page: no token, or an empty one.
        assert_eq!(
            raw_page(page(r#"{"resourceVersion":"7"}"#)).unwrap().next,
            None
        );
        assert_eq!(raw_page(page(r#"{"continue":""}"#)).unwrap().next, None);
        // Items after the metadata or before it: the token is found either way.
        let items_first = r#"{"items":[],"metadata":{"continue":"x"}}"#.to_string();
        assert_eq!(raw_page(items_first).unwrap().next.as_deref(), Some("x"));
        // Not JSON: a decode error, as kube's own list reports it.
        assert!(matches!(
            raw_page("<html>".into()),
            Err(kube::Error::SerdeError(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_reads_are_retried_then_reported() {
        let mut calls = 0;
        let r: Result<u32> = retry_read("list nodes", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(api_error(503)) } else { Ok(7) } }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 3);

        let mut calls = 0;
        let r: Result<u32> = retry_read("list nodes", || {
            calls += 1;
            async { Err(api_error(500)) }
        })
        .await;
        assert_eq!(calls, READ_ATTEMPTS);
        assert_eq!(r.unwrap_err().api_code(), Some(500));

        let mut calls = 0;
        let r: Result<u32> = retry_read("list nodes", || {
            calls += 1;
            async { Err(api_error(403)) }
        })
        .await;
        assert_eq!(calls, 1, "a 403 is not retried");
        assert!(r.unwrap_err().is_forbidden());
    }
}
