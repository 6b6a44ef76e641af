//! Bounded, paginated reads with retries.
//!
//! Every list goes through here: pages of [`PAGE_SIZE`] with `limit`/`continue`, so memory and
//! request size stay bounded on a 100,000-pod cluster; metadata-only when the caller needs no
//! spec or status; and reads retried on 429, 5xx and dropped connections with backoff. Writes are
//! never retried here: only the caller knows whether a write is safe to repeat.

use std::{fmt::Debug, future::Future, time::Duration};

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
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
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

/// Lists every object, page by page, calling `each` with each page.
pub async fn for_each_page<K, F>(
    api: &Api<K>,
    params: &ListParams,
    action: &str,
    mut each: F,
) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    F: FnMut(Vec<K>),
{
    let mut params = params.clone().limit(PAGE_SIZE);
    loop {
        let page: ObjectList<K> = retry_read(action, || api.list(&params)).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        each(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// Lists every object into one vector.
pub async fn list_all<K>(api: &Api<K>, params: &ListParams, action: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut all = Vec::new();
    for_each_page(api, params, action, |page| all.extend(page)).await?;
    Ok(all)
}

/// Lists the metadata of every object (`as=PartialObjectMetadataList`), page by page, calling
/// `each` with each page: only one page is held at a time.
pub async fn for_each_metadata_page<K, F>(
    api: &Api<K>,
    params: &ListParams,
    action: &str,
    mut each: F,
) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    F: FnMut(Vec<PartialObjectMeta<K>>),
{
    let mut params = params.clone().limit(PAGE_SIZE);
    loop {
        let page = retry_read(action, || api.list_metadata(&params)).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        each(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
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
    let mut all = Vec::new();
    for_each_metadata_page(api, params, action, |page| all.extend(page)).await?;
    Ok(all)
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
        assert!(!is_transient(&api_error(403)));
        assert!(!is_transient(&api_error(404)));
        assert!(!is_transient(&api_error(409)));
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
