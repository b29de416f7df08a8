//! `spread admin meta backup FILE` and `spread admin meta verify` (see meta's
//! [`meta::backup`] and docs/operations.md, "Backups").

use super::table::Table;
use crate::error::{Error, Result};
use meta_api::api::{GroupDigest, GroupMark, NodeDigest};
use meta_api::client::MetaClient;
use std::path::Path;

/// How long each node may take to apply the verify marker.
const DIGEST_WAIT_MS: u64 = 60_000;
/// Verify rounds tried when a node cannot answer for the marker (it caught up by snapshot).
const VERIFY_ROUNDS: usize = 3;
/// Differing environments listed at most.
const LISTED: usize = 10;

/// Streams a backup from the leader into a temporary file beside `file`, syncs it, checks it
/// (the header's sizes and hashes) and renames it to `file`.
pub async fn backup(client: &MetaClient, file: &Path) -> Result<String> {
    use tokio::io::AsyncWriteExt;
    let name = file
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} is not a file name", file.display())))?;
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = async {
        let f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| Error::file(&tmp, e))?;
        let mut w = tokio::io::BufWriter::with_capacity(1 << 20, f);
        let n = client.backup_to(&mut w).await?;
        w.flush().await.map_err(|e| Error::file(&tmp, e))?;
        w.into_inner()
            .sync_all()
            .await
            .map_err(|e| Error::file(&tmp, e))?;
        let checked = tmp.clone();
        let (header, _) = tokio::task::spawn_blocking(move || meta::backup::check_file(&checked))
            .await
            .map_err(|e| Error::Usage(format!("checking the backup: {e}")))??;
        Ok::<_, Error>((n, header))
    }
    .await;
    let (bytes, header) = match written {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, file).map_err(|e| Error::file(file, e))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::file(&dir, e))?;
    Ok(format!(
        "wrote {}: {bytes} bytes, log index {} (term {}), {} environments\n",
        file.display(),
        header.index,
        header.term,
        header.envs.len()
    ))
}

/// Asks the leader for a verify marker, then every member for its digest at it; prints a
/// table and fails if the digests differ or a node cannot answer.
pub async fn verify(client: &MetaClient) -> Result<String> {
    let mut last = String::new();
    for round in 0..VERIFY_ROUNDS {
        let leader = client.leader_addr().await?;
        let status = client.group_status_at(&leader).await?;
        let mark = client.call(&GroupMark {}).await?;
        let mut answers = Vec::new();
        for m in &status.members {
            let q = GroupDigest {
                index: mark.index,
                wait_ms: DIGEST_WAIT_MS,
            };
            answers.push((m.id, m.addr.clone(), client.call_at(&m.addr, &q).await));
        }
        let failed = answers.iter().any(|(_, _, a)| a.is_err());
        let table = render(&answers);
        if failed && round + 1 < VERIFY_ROUNDS {
            last = table;
            continue;
        }
        let digests: Vec<&NodeDigest> = answers
            .iter()
            .filter_map(|(_, _, a)| a.as_ref().ok())
            .collect();
        let same = digests.windows(2).all(|w| w[0].digest == w[1].digest);
        if !failed && same {
            return Ok(format!(
                "{table}all {} nodes identical at log index {} (term {})\n",
                digests.len(),
                mark.index,
                mark.term
            ));
        }
        super::write_stdout(&format!("{table}{}", differing(&digests)))?;
        return Err(Error::Usage(if failed {
            format!(
                "meta verify: not every node answered for log index {}",
                mark.index
            )
        } else {
            format!(
                "meta verify: the nodes' states differ at log index {}",
                mark.index
            )
        }));
    }
    super::write_stdout(&last)?;
    Err(Error::Usage("meta verify: not every node answered".into()))
}

fn render(answers: &[(u64, String, meta_api::Result<NodeDigest>)]) -> String {
    let mut t = Table::new(["ID", "ADDR", "INDEX", "ENVS", "ENTRIES", "DIGEST"]);
    for (id, addr, a) in answers {
        match a {
            Ok(d) => t.row([
                id.to_string(),
                addr.clone(),
                d.index.to_string(),
                d.envs.len().to_string(),
                d.entries.to_string(),
                d.digest.clone(),
            ]),
            Err(e) => t.row([
                id.to_string(),
                addr.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("error: {e}"),
            ]),
        }
    }
    t.to_string()
}

/// The environments whose digest is not the same on every node (at most [`LISTED`]).
fn differing(digests: &[&NodeDigest]) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_env: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for d in digests {
        for (env, h) in &d.envs {
            by_env.entry(env).or_default().insert(h);
        }
    }
    let held_by_all = |env: &str| digests.iter().all(|d| d.envs.iter().any(|(e, _)| e == env));
    let mut out = String::new();
    let differ = by_env
        .iter()
        .filter(|(env, hashes)| hashes.len() > 1 || !held_by_all(env));
    for (n, (env, _)) in differ.enumerate() {
        if n == LISTED {
            out.push_str("...\n");
            break;
        }
        let holders: Vec<String> = digests
            .iter()
            .map(|d| {
                let h = d
                    .envs
                    .iter()
                    .find(|(e, _)| e == env)
                    .map_or("absent", |(_, h)| h.get(..16).unwrap_or(h));
                format!("node {}: {h}", d.id)
            })
            .collect();
        out.push_str(&format!("differs: {env} ({})\n", holders.join(", ")));
    }
    out
}
