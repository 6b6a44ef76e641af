//! One migration at a time: `host`, `member` and `gateway` hold the Lease
//! `kubesphere-system/ks-migrate` (coordination.k8s.io/v1, the object Kubernetes' own leader
//! election uses: <https://kubernetes.io/docs/concepts/architecture/leases/>) while they run,
//! and renew it every [`RENEW_EVERY`]. `--dry-run` takes none.
//!
//! Every write carries the resourceVersion that was read (create fails with 409 when the Lease
//! exists, replace fails with 409 when it changed), so of two runs racing for it exactly one
//! wins; the other re-reads it and refuses, naming the holder and since when.
//!
//! A Lease whose holder stopped renewing is taken over once it has expired (renewTime +
//! leaseDurationSeconds in the past). One case is taken over at once: the holder ran on this
//! same machine and its process is gone (a run killed with SIGKILL), because that holder
//! provably cannot be running. A run that ends, in success or failure, deletes its Lease.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{
    Api,
    api::{DeleteParams, PostParams, Preconditions},
};

use crate::{
    error::{Error, Result},
    kubesphere::SYSTEM_NAMESPACE,
    list,
};

/// The Lease's name (in `kubesphere-system`).
pub const NAME: &str = "ks-migrate";
/// `spec.leaseDurationSeconds`: how long after its last renewal a Lease counts as held.
pub const DURATION_SECONDS: i32 = 60;
/// How often a run renews its Lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(15);
/// The annotation naming what the holder migrates (`host`, `member`, `gateway`).
pub const TARGET_ANNOTATION: &str = "kupgrade.dev/ks-migrate-target";

/// Who holds the Lease: `holderIdentity` is `<user>@<host> pid <pid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The user who ran ks-migrate.
    pub user: String,
    /// The machine it ran on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
}

impl Holder {
    /// This process.
    pub fn me() -> Self {
        Self {
            user: current_user(),
            host: hostname(),
            pid: std::process::id(),
        }
    }

    /// The `holderIdentity` text.
    pub fn identity(&self) -> String {
        format!("{}@{} pid {}", self.user, self.host, self.pid)
    }

    /// Reads a `holderIdentity` this plugin wrote.
    pub fn parse(identity: &str) -> Option<Self> {
        let (who, pid) = identity.rsplit_once(" pid ")?;
        let (user, host) = who.rsplit_once('@')?;
        Some(Self {
            user: user.to_string(),
            host: host.to_string(),
            pid: pid.trim().parse().ok()?,
        })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".into())
}

fn current_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u;
        }
    }
    // No login variables (cron, a CI job): the numeric uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| format!("uid-{u}")))
        })
        .unwrap_or_else(|| "unknown-user".into())
}

/// True when process `pid` on this machine is (still) a ks-migrate. Without `/proc` it cannot
/// be told, and the answer is true (the Lease is then only taken over once expired).
pub fn ks_migrate_alive(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) => {
            let text = String::from_utf8_lossy(&raw);
            text.contains("ks-migrate") || text.contains("ks_migrate")
        }
        Err(_) => false,
    }
}

/// What to do about the Lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is none: create it.
    Create,
    /// Take it over (replace it with our holder), for this reason.
    Take(String),
    /// Another run holds it: refuse with this message.
    Refuse(String),
}

/// When the Lease was last renewed (or acquired).
fn renewed(spec: &LeaseSpec) -> Option<jiff::Timestamp> {
    spec.renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0)
}

/// Decides, from the Lease as read, whether this run may hold it. `alive` says whether a
/// holder on this machine is still running.
pub fn decide(
    lease: Option<&Lease>,
    me: &Holder,
    now: jiff::Timestamp,
    alive: impl Fn(u32) -> bool,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let identity = spec.holder_identity.clone().unwrap_or_default();
    if identity.is_empty() {
        return Decision::Take("it is released".into());
    }
    if identity == me.identity() {
        return Decision::Take("this run holds it".into());
    }
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(DURATION_SECONDS));
    let expires = renewed(&spec).and_then(|t| {
        t.checked_add(jiff::SignedDuration::from_secs(duration))
            .ok()
    });
    match expires {
        Some(e) if e <= now => {
            return Decision::Take(format!("it expired at {e} (holder {identity})"));
        }
        None => return Decision::Take(format!("it has no renewTime (holder {identity})")),
        _ => {}
    }
    if let Some(h) = Holder::parse(&identity)
        && h.host == me.host
        && !alive(h.pid)
    {
        return Decision::Take(format!(
            "its holder {identity} ran on this machine and process {} is gone",
            h.pid
        ));
    }
    let target = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TARGET_ANNOTATION))
        .map(|t| format!(" `ks-migrate {t}`"))
        .unwrap_or_default();
    let since = spec
        .acquire_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| "an unknown time".into());
    let last = renewed(&spec).map(|t| t.to_string()).unwrap_or_default();
    let until = expires.map(|t| t.to_string()).unwrap_or_default();
    Decision::Refuse(format!(
        "another migration is running: Lease {SYSTEM_NAMESPACE}/{NAME} is held by{target} {identity} since {since} (last renewed {last}; it expires at {until} unless renewed)"
    ))
}

fn hint() -> String {
    format!(
        "wait for that run to finish, then rerun; if it was killed, its Lease expires {DURATION_SECONDS} s after its last renewal and the next run takes over (at once when it ran on this machine and its process is gone). `kubectl -n {SYSTEM_NAMESPACE} get lease {NAME} -o yaml` shows the holder"
    )
}

fn micro(t: jiff::Timestamp) -> MicroTime {
    MicroTime(t.round(jiff::Unit::Microsecond).unwrap_or(t))
}

/// A held Lease, renewed in the background until [`Guard::release`].
pub struct Guard {
    api: Api<Lease>,
    current: Arc<Mutex<Lease>>,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
    identity: String,
    /// Why an existing Lease was taken over (for the log), if one was.
    pub took_over: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Takes the Lease for `target` or refuses (exit 1) naming its holder.
pub async fn acquire(client: &kube::Client, target: &str) -> Result<Guard> {
    let api: Api<Lease> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let me = Holder::me();
    // Two attempts: a lost race re-reads the Lease once, and then sees the winner.
    for _ in 0..2 {
        let read = list::get_opt(
            &api,
            NAME,
            &format!("get Lease `{SYSTEM_NAMESPACE}/{NAME}`"),
        )
        .await?;
        let now = jiff::Timestamp::now();
        let decision = decide(read.as_ref(), &me, now, ks_migrate_alive);
        let mut lease = read.clone().unwrap_or_default();
        let transitions = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_transitions)
            .unwrap_or(0);
        lease.metadata = ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(SYSTEM_NAMESPACE.into()),
            resource_version: read
                .as_ref()
                .and_then(|l| l.metadata.resource_version.clone()),
            annotations: Some([(TARGET_ANNOTATION.to_string(), target.to_string())].into()),
            ..Default::default()
        };
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(me.identity()),
            lease_duration_seconds: Some(DURATION_SECONDS),
            acquire_time: Some(micro(now)),
            renew_time: Some(micro(now)),
            lease_transitions: Some(if read.is_some() { transitions + 1 } else { 0 }),
            ..Default::default()
        });
        let (written, took_over) = match decision {
            Decision::Refuse(message) => return Err(Error::refused(message, Some(hint()))),
            Decision::Create => (api.create(&PostParams::default(), &lease).await, None),
            Decision::Take(why) => (
                api.replace(NAME, &PostParams::default(), &lease).await,
                Some(why),
            ),
        };
        match written {
            Ok(l) => return Ok(Guard::start(api, l, me.identity(), took_over)),
            // Another run created or changed it between our read and our write.
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                return Err(Error::api(
                    format!("take Lease `{SYSTEM_NAMESPACE}/{NAME}`"),
                    e,
                ));
            }
        }
    }
    Err(Error::refused(
        format!("another migration took Lease {SYSTEM_NAMESPACE}/{NAME} at the same moment"),
        Some(hint()),
    ))
}

/// Whether a Lease is held by another run now (for `--dry-run`, which takes none).
pub async fn held_by_other(client: &kube::Client) -> Result<Option<String>> {
    let api: Api<Lease> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let read = list::get_opt(
        &api,
        NAME,
        &format!("get Lease `{SYSTEM_NAMESPACE}/{NAME}`"),
    )
    .await?;
    Ok(
        match decide(
            read.as_ref(),
            &Holder::me(),
            jiff::Timestamp::now(),
            ks_migrate_alive,
        ) {
            Decision::Refuse(m) => Some(m),
            _ => None,
        },
    )
}

impl Guard {
    fn start(api: Api<Lease>, lease: Lease, identity: String, took_over: Option<String>) -> Self {
        let current = Arc::new(Mutex::new(lease));
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(api.clone(), current.clone(), lost.clone()));
        Self {
            api,
            current,
            lost,
            renewer,
            identity,
            took_over,
        }
    }

    /// True once the Lease could not be renewed before it expired, or was taken by another run.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// A flag that turns true when the Lease is lost (for the step loop).
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    /// Stops renewing and deletes the Lease (only if it is still this run's). Best effort: a
    /// Lease left behind expires, or is taken over at once by the next run on this machine.
    pub async fn release(self) {
        self.renewer.abort();
        if self.lost() {
            return;
        }
        let rv = self
            .current
            .lock()
            .ok()
            .and_then(|l| l.metadata.resource_version.clone());
        let params = |rv: Option<String>| DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: rv,
                uid: None,
            }),
            ..Default::default()
        };
        match self.api.delete(NAME, &params(rv)).await {
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // A renewal landed as we stopped it: delete it if it is still ours.
                if let Ok(l) = self.api.get(NAME).await
                    && l.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
                        == Some(self.identity.as_str())
                {
                    let _ = self
                        .api
                        .delete(NAME, &params(l.metadata.resource_version))
                        .await;
                }
            }
            _ => {}
        }
    }
}

/// Renews the Lease every [`RENEW_EVERY`], each write carrying the last resourceVersion. A
/// conflict means another run took it; failing to renew until it expires means it may have.
async fn renew(api: Api<Lease>, current: Arc<Mutex<Lease>>, lost: Arc<AtomicBool>) {
    let mut last_ok = std::time::Instant::now();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let Some(mut lease) = current.lock().ok().map(|l| l.clone()) else {
            return;
        };
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(micro(jiff::Timestamp::now()));
        }
        match api.replace(NAME, &PostParams::default(), &lease).await {
            Ok(l) => {
                last_ok = std::time::Instant::now();
                if let Ok(mut c) = current.lock() {
                    *c = l;
                }
            }
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => {
                if last_ok.elapsed() >= Duration::from_secs(DURATION_SECONDS as u64) {
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn lease(holder: &str, renewed: &str, target: Option<&str>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                annotations: target
                    .map(|t| [(TARGET_ANNOTATION.to_string(), t.to_string())].into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(60),
                acquire_time: Some(MicroTime(ts("2026-12-02T01:00:00Z"))),
                renew_time: Some(MicroTime(ts(renewed))),
                ..Default::default()
            }),
        }
    }

    fn me() -> Holder {
        Holder {
            user: "root".into(),
            host: "bastion".into(),
            pid: 100,
        }
    }

    #[test]
    fn holder_identities_round_trip() {
        let h = me();
        assert_eq!(h.identity(), "root@bastion pid 100");
        assert_eq!(Holder::parse(&h.identity()), Some(h));
        assert_eq!(Holder::parse("kube-controller-manager_abc"), None);
        let odd = Holder::parse("a@b@c pid 7").unwrap();
        assert_eq!(
            (odd.user.as_str(), odd.host.as_str(), odd.pid),
            ("a@b", "c", 7)
        );
    }

    #[test]
    fn no_lease_is_created_and_a_released_one_taken() {
        let now = ts("2026-12-02T01:00:30Z");
        assert_eq!(decide(None, &me(), now, |_| true), Decision::Create);
        let mut l = lease("x@y pid 1", "2026-12-02T01:00:20Z", None);
        l.spec.as_mut().unwrap().holder_identity = None;
        assert!(matches!(
            decide(Some(&l), &me(), now, |_| true),
            Decision::Take(_)
        ));
    }

    #[test]
    fn a_live_lease_of_another_run_refuses_naming_holder_and_since() {
        let now = ts("2026-12-02T01:00:30Z");
        let l = lease(
            "ops@other-host pid 4242",
            "2026-12-02T01:00:20Z",
            Some("host"),
        );
        match decide(Some(&l), &me(), now, |_| false) {
            Decision::Refuse(m) => {
                assert!(m.contains("ops@other-host pid 4242"), "{m}");
                assert!(m.contains("`ks-migrate host`"), "{m}");
                assert!(m.contains("since 2026-12-02T01:00:00Z"), "{m}");
                assert!(m.contains("expires at 2026-12-02T01:01:20Z"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_expired_lease_is_taken_over() {
        let l = lease("ops@other-host pid 4242", "2026-12-02T01:00:20Z", None);
        // Not yet: one second before expiry.
        assert!(matches!(
            decide(Some(&l), &me(), ts("2026-12-02T01:01:19Z"), |_| false),
            Decision::Refuse(_)
        ));
        match decide(Some(&l), &me(), ts("2026-12-02T01:01:20Z"), |_| true) {
            Decision::Take(why) => assert!(why.contains("expired"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_dead_holder_on_this_machine_is_taken_over_at_once_a_live_one_is_not() {
        let now = ts("2026-12-02T01:00:30Z");
        let l = lease("root@bastion pid 55", "2026-12-02T01:00:20Z", None);
        match decide(Some(&l), &me(), now, |pid| pid != 55) {
            Decision::Take(why) => assert!(why.contains("process 55 is gone"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decide(Some(&l), &me(), now, |_| true),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn a_pid_that_does_not_exist_is_no_live_ks_migrate() {
        if std::path::Path::new("/proc/self").exists() {
            assert!(!ks_migrate_alive(u32::MAX));
        }
    }
}
