//! `spread admin`: accounts, keys, services and object locations, through meta's HTTP API.

pub mod locate;
pub mod table;

use crate::cli::{
    AccountCommand, AdminArgs, AdminCommand, ClusterCommand, KeyCommand, ObjectCommand,
};
use crate::cluster;
use crate::error::{Error, Result};
use meta::client::MetaClient;
use table::Table;

/// Runs one admin command; output goes to stdout.
pub async fn run(args: AdminArgs) -> Result<()> {
    let addr = match &args.meta {
        Some(a) => a.clone(),
        None => cluster::meta_addr(&args.cluster)
            .map_err(|e| Error::Usage(format!("{e} (give --cluster FILE or --meta ADDR)")))?,
    };
    let client = MetaClient::new(&addr);
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
        AdminCommand::Key(KeyCommand::List) => {
            let mut t = Table::new(["ACCESS KEY", "ACCOUNT", "SECRET"]);
            for c in client.list_keys().await? {
                t.row([c.access_key, c.account, table::mask(&c.secret_key)]);
            }
            t.to_string()
        }
        AdminCommand::Cluster(ClusterCommand::List) => {
            let now = now_ms();
            let mut t = Table::new(["ID", "KIND", "ADDR", "LOCATION", "SCORE", "LAST SEEN"]);
            for s in client.list_services(None).await? {
                t.row([
                    s.id,
                    s.kind,
                    s.addr,
                    s.location,
                    s.score.to_string(),
                    table::ago(now - s.last_seen_ms),
                ]);
            }
            t.to_string()
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

/// Writes `text` to stdout; a closed pipe (`spread admin ... | head`) is not an error.
fn write_stdout(text: &str) -> Result<()> {
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
