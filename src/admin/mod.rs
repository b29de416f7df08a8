//! `spread admin`: accounts, keys, Swift users, services (scores and locks), buckets, storage
//! policies and object locations, through meta's HTTP API; chunk servers' scrubbers, asked
//! directly ([`chunkd`]).

pub mod backup;
pub mod chunkd;
pub mod locate;
pub mod policy;
pub mod rebuild;
pub mod recover;
pub mod table;

use crate::cli::{
    AccountCommand, AdminArgs, AdminCommand, BucketCommand, ChunkdCommand, ClusterCommand,
    KeyCommand, KmsCommand, KmsKeyCommand, MetaCommand, ObjectCommand, PolicyCommand, QuotaCommand,
    SwiftUserCommand,
};
use crate::cluster;
use crate::error::{Error, Result};
use meta_api::client::MetaClient;
use table::Table;

/// A meta client signing as an operator with the admin secret of `--admin-key-file` (or
/// `SPREAD_ADMIN_KEY_FILE`, `SPREAD_ADMIN_KEY`), else of the cluster file; unsigned when
/// there is none (meta then refuses, unless it runs with `insecure_no_auth`).
fn signed_client(
    addr: &str,
    args: &AdminArgs,
    auth: Option<&cluster::AuthEntry>,
) -> Result<MetaClient> {
    let file = args
        .admin_key_file
        .clone()
        .or_else(|| auth.map(|a| a.admin_key_file.clone()));
    let client = MetaClient::new(addr);
    match internal_auth::admin_secret(file.as_deref()).map_err(|e| Error::Usage(e.to_string()))? {
        Some(secret) => Ok(client.with_signer(internal_auth::Signer::new(
            internal_auth::Role::Admin,
            &secret,
        ))),
        None => Ok(client),
    }
}

/// A chunk server client signing with the cluster secret (`--cluster-key-file`,
/// `SPREAD_CLUSTER_KEY_FILE`, `SPREAD_CLUSTER_KEY`, else the cluster file's).
fn chunk_client(
    args: &AdminArgs,
    auth: Option<&cluster::AuthEntry>,
) -> Result<::chunkd::ChunkClient> {
    let file = args
        .cluster_key_file
        .clone()
        .or_else(|| auth.map(|a| a.cluster_key_file.clone()));
    let client = ::chunkd::ChunkClient::new();
    match internal_auth::cluster_secret(file.as_deref()).map_err(|e| Error::Usage(e.to_string()))? {
        Some(secret) => Ok(client.with_signer(internal_auth::Signer::new(
            internal_auth::Role::Service,
            &secret,
        ))),
        None => Ok(client),
    }
}

/// Runs one admin command; output goes to stdout.
pub async fn run(args: AdminArgs) -> Result<()> {
    if let AdminCommand::Recover {
        volumes,
        dry_run: true,
        json,
    } = &args.command
    {
        return write_stdout(&recover::run(None, volumes, *json).await?);
    }
    let (addr, auth) = match &args.meta {
        Some(a) => (
            a.clone(),
            cluster::admin_view(&args.cluster).ok().and_then(|v| v.1),
        ),
        None => cluster::admin_view(&args.cluster)
            .map_err(|e| Error::Usage(format!("{e} (give --cluster FILE or --meta ADDR)")))?,
    };
    let client = signed_client(&addr, &args, auth.as_ref())?;
    let chunks = chunk_client(&args, auth.as_ref())?;
    let output = match args.command {
        AdminCommand::Account(AccountCommand::Create { name }) => {
            let a = client.create_account(&name).await?;
            format!("created account {}\n", a.name)
        }
        AdminCommand::Account(AccountCommand::List) => {
            let mut t = Table::new(["NAME", "CONTAINERS", "OBJECTS", "BYTES"]);
            for a in client.list_accounts().await? {
                t.row([
                    a.name,
                    a.containers.to_string(),
                    a.objects.to_string(),
                    a.bytes.to_string(),
                ]);
            }
            t.to_string()
        }
        AdminCommand::Key(KeyCommand::Create {
            account,
            access_key,
            secret_key,
        }) => {
            let c = client
                .create_key(&account, access_key.as_deref(), secret_key.as_deref())
                .await?;
            format!(
                "account:    {}\naccess key: {}\nsecret key: {}\n",
                c.account, c.access_key, c.secret_key
            )
        }
        AdminCommand::Account(AccountCommand::Delete { name }) => {
            client
                .call(&meta_api::api::AccountDelete { name: name.clone() })
                .await?;
            format!("deleted account {name}\n")
        }
        AdminCommand::Key(KeyCommand::Delete { access_key }) => {
            client
                .call(&meta_api::api::KeyDelete {
                    access_key: access_key.clone(),
                })
                .await?;
            format!("deleted access key {access_key}\n")
        }
        AdminCommand::SwiftUser(SwiftUserCommand::Delete { account, user }) => {
            client
                .call(&meta_api::api::SwiftUserDelete {
                    account: account.clone(),
                    user: user.clone(),
                })
                .await?;
            format!("deleted swift user {account}:{user}\n")
        }
        AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::Create { name })) => {
            let k = client
                .call(&meta_api::api::KmsKeyCreate { name: name.clone() })
                .await?;
            format!("created KMS key {}\n", k.name)
        }
        AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::List)) => {
            let mut t = Table::new(["NAME", "STATE", "MATERIAL", "CREATED"]);
            for k in client.call(&meta_api::api::KmsKeyList {}).await? {
                t.row([
                    k.name,
                    if k.enabled { "enabled" } else { "disabled" }.to_string(),
                    match &k.material {
                        Some(m) => format!("wrapped by {}", m.master_key_id),
                        None => "not made yet".to_string(),
                    },
                    table::ago(now_ms() - k.created_ms),
                ]);
            }
            t.to_string()
        }
        AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::Disable { name })) => {
            client
                .call(&meta_api::api::KmsKeySetEnabled {
                    name: name.clone(),
                    enabled: false,
                })
                .await?;
            format!("disabled KMS key {name}\n")
        }
        AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::Enable { name })) => {
            client
                .call(&meta_api::api::KmsKeySetEnabled {
                    name: name.clone(),
                    enabled: true,
                })
                .await?;
            format!("enabled KMS key {name}\n")
        }
        AdminCommand::Quota(QuotaCommand::Set {
            account,
            bucket,
            max_bytes,
            max_objects,
        }) => {
            let q = client
                .call(&meta_api::api::QuotaSet {
                    account,
                    container: bucket,
                    quota: meta_api::api::Quota {
                        max_bytes,
                        max_objects,
                    },
                })
                .await?;
            quota_text(&q)
        }
        AdminCommand::Quota(QuotaCommand::Get {
            account,
            bucket,
            json,
        }) => {
            let q = client
                .call(&meta_api::api::QuotaGet {
                    account,
                    container: bucket,
                })
                .await?;
            if json {
                serde_json::to_string_pretty(&q).map_err(|e| Error::Usage(e.to_string()))? + "\n"
            } else {
                quota_text(&q)
            }
        }
        AdminCommand::Bucket(BucketCommand::List { account }) => {
            let mut t = Table::new([
                "BUCKET",
                "OBJECTS",
                "BYTES",
                "MAX OBJECTS",
                "MAX BYTES",
                "POLICY",
            ]);
            for c in client.list_containers(&account).await? {
                let q = client
                    .call(&meta_api::api::QuotaGet {
                        account: account.clone(),
                        container: Some(c.name.clone()),
                    })
                    .await?;
                t.row([
                    c.name,
                    c.objects.to_string(),
                    c.bytes.to_string(),
                    limit_text(q.quota.max_objects),
                    limit_text(q.quota.max_bytes),
                    c.settings.policy.unwrap_or_else(|| "-".to_string()),
                ]);
            }
            t.to_string()
        }
        AdminCommand::Key(KeyCommand::List) => {
            // Meta lists no secret: a secret is shown once, by `key create`.
            let mut t = Table::new(["ACCESS KEY", "ACCOUNT"]);
            for c in client.list_keys().await? {
                t.row([c.access_key, c.account]);
            }
            t.to_string()
        }
        AdminCommand::SwiftUser(SwiftUserCommand::Create {
            account,
            user,
            key,
            admin,
        }) => {
            let u = client
                .create_swift_user(&account, &user, &key, admin)
                .await
                .map_err(|e| match e {
                    meta_api::Error::CredentialExists(name) => {
                        Error::Usage(format!("swift user {name} already exists"))
                    }
                    other => other.into(),
                })?;
            format!(
                "created swift user {}:{}{}\n",
                u.account,
                u.user,
                if u.admin { " (admin)" } else { "" }
            )
        }
        AdminCommand::Cluster(ClusterCommand::List) => {
            let now = now_ms();
            let mut t = Table::new([
                "ID",
                "KIND",
                "ADDR",
                "LOCATION",
                "SCORE",
                "LOCKED",
                "SLOTS",
                "LAST SEEN",
            ]);
            for s in client.list_services(None).await? {
                t.row([
                    s.id,
                    s.kind,
                    s.addr,
                    s.location,
                    s.score.to_string(),
                    s.locked
                        .map_or_else(|| "-".to_string(), |n| format!("at-{n}")),
                    if s.slots.is_empty() {
                        "-".to_string()
                    } else {
                        s.slots.join(",")
                    },
                    table::ago(now - s.last_seen_ms),
                ]);
            }
            t.to_string()
        }
        AdminCommand::Cluster(ClusterCommand::Gc) => {
            let now = now_ms();
            let mut t = Table::new(["SERVICE", "DUE", "WAITING", "NEXT DUE"]);
            for b in client.gc_backlog().await? {
                let next = b
                    .next_due_ms
                    .map_or_else(|| "-".to_string(), |at| table::after(at - now));
                t.row([b.service, b.due.to_string(), b.waiting.to_string(), next]);
            }
            t.to_string()
        }
        AdminCommand::Cluster(ClusterCommand::Lock { service, score }) => {
            let id = service_id(&client, &service).await?;
            let s = client.lock_service(&id, score).await?;
            format!("locked {} ({}) at score {score}\n", s.id, s.addr)
        }
        AdminCommand::Cluster(ClusterCommand::Unlock { service }) => {
            let id = service_id(&client, &service).await?;
            let s = client.unlock_service(&id).await?;
            format!("unlocked {} ({})\n", s.id, s.addr)
        }
        AdminCommand::Cluster(ClusterCommand::Admit { service }) => {
            let id = service_id(&client, &service).await?;
            let s = client.unlock_service(&id).await?;
            format!(
                "admitted {} ({}, {}): it receives chunks as its score rises\n",
                s.id, s.addr, s.location
            )
        }
        AdminCommand::Cluster(ClusterCommand::Rebuild { service }) => {
            let id = service_id(&client, &service).await?;
            let l = client.rebuild_start(&id).await?;
            format!(
                "{} declared lost: {} to re-create; follow with `spread admin cluster rebuild-status`\n",
                l.service,
                rebuild::declared(&l)
            )
        }
        AdminCommand::Cluster(ClusterCommand::Drain { service }) => {
            let id = service_id(&client, &service).await?;
            let l = client.drain(&id).await?;
            format!(
                "draining {}: {} to move; follow with `spread admin cluster rebuild-status`, then stop it and `forget` it\n",
                l.service,
                rebuild::declared(&l)
            )
        }
        AdminCommand::Cluster(ClusterCommand::Forget { service }) => {
            let id = service_id(&client, &service).await?;
            client.forget_service(&id).await?;
            format!("forgot {id}\n")
        }
        AdminCommand::Cluster(ClusterCommand::RebuildStatus { json }) => {
            let status = client.rebuild_status().await?;
            if json {
                serde_json::to_string_pretty(&status)
                    .map_err(|e| Error::Usage(format!("cannot encode JSON: {e}")))?
                    + "\n"
            } else {
                rebuild::render(&status, now_ms())
            }
        }
        AdminCommand::Cluster(ClusterCommand::UnlockAll) => {
            let n = client.unlock_all().await?;
            format!("unlocked {n} service(s)\n")
        }
        AdminCommand::Bucket(BucketCommand::SetPolicy { bucket, policy }) => {
            let c = client.set_container_policy(&bucket, Some(&policy)).await?;
            format!(
                "bucket {} now uses policy {}\n",
                c.name,
                c.settings.policy.as_deref().unwrap_or(&policy)
            )
        }
        AdminCommand::Policy(PolicyCommand::Check { file }) => {
            let (_, set) = policy::load(&file)?;
            let services = client.list_services(Some("chunkd")).await?;
            let reports = ::policy::check::check(&set, &policy::views(&services));
            let (text, ok) = policy::render_check(&reports);
            write_stdout(&text)?;
            if !ok {
                let failed = reports.iter().filter(|r| !r.ok).count();
                return Err(Error::Usage(format!(
                    "{}: {failed} of {} policies cannot be satisfied by the live cluster",
                    file.display(),
                    reports.len()
                )));
            }
            return Ok(());
        }
        AdminCommand::Policy(PolicyCommand::Apply { file }) => {
            let (text, set) = policy::load(&file)?;
            client.apply_policy(&text).await?;
            format!(
                "applied {} ({} policies, default {})\n",
                file.display(),
                set.policies.len(),
                set.default
            )
        }
        AdminCommand::Policy(PolicyCommand::List) => match client.get_policy().await? {
            None => policy::NO_POLICY_FILE.to_string(),
            Some(text) => {
                let set = ::policy::PolicySet::parse(&text).map_err(|e| {
                    Error::Usage(format!("the applied policy file does not parse: {e}"))
                })?;
                policy::render_list(&set)
            }
        },
        AdminCommand::Meta(MetaCommand::Status { json }) => meta_status(&client, json).await?,
        AdminCommand::Meta(MetaCommand::Add { id, addr }) => {
            let s = client.group_add(id, &addr).await?;
            format!(
                "added meta node {id} at {addr}; {} members\n",
                s.members.len()
            )
        }
        AdminCommand::Meta(MetaCommand::Remove { id }) => {
            let s = client.group_remove(id).await?;
            format!("removed meta node {id}; {} members\n", s.members.len())
        }
        AdminCommand::Meta(MetaCommand::Backup { file }) => backup::backup(&client, &file).await?,
        AdminCommand::Meta(MetaCommand::Verify) => backup::verify(&client).await?,
        AdminCommand::Chunkd(ChunkdCommand::ScrubStatus { server, json }) => {
            chunkd::scrub_status(&chunks, &chunkd::address(&client, &server).await?, json).await?
        }
        AdminCommand::Chunkd(ChunkdCommand::Chunks {
            server,
            count,
            limit,
        }) => {
            let id = service_id(&client, &server).await?;
            rebuild::chunks(&client, &id, count, limit).await?
        }
        AdminCommand::Chunkd(ChunkdCommand::Scrub { server, json }) => {
            chunkd::scrub_start(&chunks, &chunkd::address(&client, &server).await?, json).await?
        }
        AdminCommand::Recover { volumes, json, .. } => {
            recover::run(Some(&client), &volumes, json).await?
        }
        AdminCommand::Object(ObjectCommand::Locate { bucket, key, json }) => {
            let rec = client.get_object(&bucket, &key).await?;
            let services = client.list_services(None).await?;
            let report = locate::report(&bucket, &rec, &services);
            if json {
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| Error::Usage(format!("cannot encode JSON: {e}")))?;
                text + "\n"
            } else {
                locate::render(&report)
            }
        }
    };
    write_stdout(&output)
}

/// `spread admin meta status`: asks every configured address (each node answers for itself).
async fn meta_status(client: &MetaClient, json: bool) -> Result<String> {
    let mut views = Vec::new();
    for addr in client.addrs() {
        views.push((addr.clone(), client.group_status_at(addr).await));
    }
    if json {
        let out: Vec<serde_json::Value> = views
            .iter()
            .map(|(addr, v)| match v {
                Ok(s) => serde_json::json!({"addr": addr, "status": s}),
                Err(e) => serde_json::json!({"addr": addr, "error": e.to_string()}),
            })
            .collect();
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::Usage(format!("cannot encode JSON: {e}")))?;
        return Ok(text + "\n");
    }
    // The leader's view gives each member's replication progress.
    let leader_last = views
        .iter()
        .filter_map(|(_, v)| v.as_ref().ok())
        .find(|s| s.state == "Leader")
        .map(|s| (s.last_log_index.unwrap_or(0), s.members.clone()));
    let mut t = Table::new([
        "ADDR", "ID", "STATE", "TERM", "LEADER", "LAST LOG", "APPLIED", "LAG",
    ]);
    for (addr, v) in views {
        match v {
            Ok(s) => {
                let lag = leader_last.as_ref().and_then(|(last, members)| {
                    let m = members.iter().find(|m| m.id == s.id)?;
                    Some(last.saturating_sub(m.matched.unwrap_or(0)).to_string())
                });
                t.row([
                    addr,
                    s.id.to_string(),
                    s.state,
                    s.term.to_string(),
                    s.leader.map_or("-".into(), |l| l.to_string()),
                    s.last_log_index.map_or("-".into(), |i| i.to_string()),
                    s.last_applied.map_or("-".into(), |i| i.to_string()),
                    lag.unwrap_or_else(|| "-".into()),
                ]);
            }
            Err(e) => t.row([
                addr,
                "-".into(),
                format!("unreachable: {e}"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
    }
    Ok(t.to_string())
}

/// Resolves a service given by id or by address to its id; an unknown one is passed through
/// so meta answers `NoSuchService`.
async fn service_id(client: &MetaClient, given: &str) -> Result<String> {
    let services = client.list_services(None).await?;
    if services.iter().any(|s| s.id == given) {
        return Ok(given.to_string());
    }
    let by_addr: Vec<&str> = services
        .iter()
        .filter(|s| s.addr == given)
        .map(|s| s.id.as_str())
        .collect();
    match by_addr.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Ok(given.to_string()),
        many => Err(Error::Usage(format!(
            "address {given} is used by several services ({}): give a service id",
            many.join(", ")
        ))),
    }
}

/// Writes `text` to stdout; a closed pipe (`spread admin ... | head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A quota limit for a table: `-` when there is none.
fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// `quota set` / `quota get` as text.
fn quota_text(q: &meta_api::api::QuotaInfo) -> String {
    let whose = match &q.container {
        Some(b) => format!("bucket {b} (account {})", q.account),
        None => format!("account {}", q.account),
    };
    format!(
        "{whose}\n  objects: {} of {}\n  bytes:   {} of {}\n",
        q.objects,
        q.quota
            .max_objects
            .map_or_else(|| "no limit".to_string(), |n| n.to_string()),
        q.bytes,
        q.quota
            .max_bytes
            .map_or_else(|| "no limit".to_string(), |n| n.to_string()),
    )
}
