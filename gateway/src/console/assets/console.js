// Spread console: fetches /console/api/overview every few seconds and redraws each section
// from it, without reloading the page. Text goes into the page through textContent only.
"use strict";

const REFRESH_MS = 3000;

// An element with attributes (class, data-*, title, ...) and children (nodes or text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = Number(n) || 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
}

function count(n) {
  return Number(n || 0).toLocaleString("en");
}

// "1 chunk", "2 chunks".
function plural(n, word) {
  return count(n) + " " + word + (Number(n) === 1 ? "" : "s");
}

function seconds(ms) {
  const s = Math.round(ms / 1000);
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}

function table(headers, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// Replaces the content of the element `id` with `nodes`.
function fill(id, ...nodes) {
  const target = document.getElementById(id);
  if (target) target.replaceChildren(...nodes.flat());
}

function failed(id, message) {
  fill(id, el("p", { class: "error", role: "alert" }, "Meta did not answer: " + message));
}

function stateLabel(v) {
  if (v.state === "down") return "DOWN";
  if (v.state === "locked") return "LOCKED at " + v.locked;
  return "UP";
}

function volumeBox(v) {
  const used = v.total_bytes > 0 ? v.used_bytes / v.total_bytes : 0;
  return el("div", {
      class: "volume " + v.state,
      "data-service": v.id,
      "data-addr": v.addr,
      "data-state": v.state,
      title: v.location + " — " + v.id,
    },
    el("div", { class: "vol-head" },
      el("span", { class: "vol-name" }, v.name),
      el("span", { class: "vol-state" }, stateLabel(v))),
    el("div", { class: "vol-addr" }, v.addr),
    el("div", { class: "vol-score" }, "score " + v.score + " ",
      el("meter", { min: 0, max: 100, low: 20, high: 60, optimum: 100, value: v.score })),
    el("div", { class: "vol-space" },
      bytes(v.used_bytes) + " used of " + bytes(v.total_bytes) + " ",
      el("meter", { min: 0, max: 1, high: 0.85, optimum: 0, value: used.toFixed(3) })),
    el("div", { class: "vol-chunks" }, plural(v.chunk_count, "chunk")),
    v.state === "down" ? el("div", { class: "vol-silent" }, "silent for " + seconds(v.silent_ms)) : null,
    v.gc_due + v.gc_waiting > 0
      ? el("div", { class: "vol-gc" }, "GC: " + count(v.gc_due) + " due, " + count(v.gc_waiting) + " waiting")
      : null,
    v.lost ? el("div", { class: "vol-lost" }, "being rebuilt (" + v.lost + ")") : null);
}

function tally(volumes) {
  const up = volumes.filter((v) => v.state !== "down").length;
  return up + "/" + volumes.length + " up";
}

function renderCluster(c) {
  const n = c.counts;
  fill("cluster-summary",
    plural(n.total, "chunk server") + ": " + n.up + " up, " + n.locked + " locked, " + n.down + " down; " +
    bytes(c.total_bytes - c.free_bytes) + " used of " + bytes(c.total_bytes) + ".");
  if (c.dcs.length === 0) {
    fill("map", el("p", {}, "No chunk server has registered yet."));
    return;
  }
  fill("map", c.dcs.map((dc) => {
    const dcVolumes = dc.racks.flatMap((r) => r.hosts.flatMap((h) => h.volumes));
    return el("div", { class: "dc", "data-dc": dc.name },
      el("h3", {}, "datacenter " + dc.name + " ", el("small", {}, tally(dcVolumes))),
      el("div", { class: "racks" }, dc.racks.map((rack) => {
        const rackVolumes = rack.hosts.flatMap((h) => h.volumes);
        return el("div", { class: "rack", "data-rack": rack.name },
          el("h4", {}, "rack " + rack.name + " ", el("small", {}, tally(rackVolumes))),
          el("div", { class: "hosts" }, rack.hosts.map((host) =>
            el("div", { class: "host" + (host.volumes.some((v) => v.state === "down") ? " has-down" : ""), "data-host": host.name },
              el("h5", {}, "host " + host.name),
              el("div", { class: "volumes" }, host.volumes.map(volumeBox))))));
      })));
  }));
}

function renderRebuild(r) {
  const parts = [];
  if (r.lost.length === 0) {
    parts.push(el("p", { id: "rebuild-idle" }, "No rebuild under way."));
  } else {
    parts.push(table(["Server", "Reason", "Progress", "Copies", "Bytes", "Queued all"],
      r.lost.map((l) => {
        // While meta still counts the server's copies (as it queues them), the totals are
        // lower bounds: no percentage from them.
        const done = l.total_chunks > 0 ? l.done_chunks / l.total_chunks : 1;
        const atLeast = l.counting ? "≥ " : "";
        return el("tr", { "data-service": l.service },
          el("td", {}, l.addr || l.service),
          el("td", {}, l.reason),
          l.counting
            ? el("td", {}, "counting…")
            : el("td", {}, el("progress", { max: 1, value: done.toFixed(3) }), " " + Math.floor(done * 100) + " %"),
          el("td", {}, count(l.done_chunks) + " / " + atLeast + count(l.total_chunks) + (l.counting ? " (counting)" : "")),
          el("td", {}, bytes(l.done_bytes) + " / " + atLeast + bytes(l.total_bytes)),
          el("td", {}, l.queued_all ? "yes" : "not yet"));
      })));
  }
  parts.push(el("p", { class: "summary" },
    "Repair queue: " + count(r.queued) + " waiting (" + bytes(r.queued_bytes) + "), " +
    count(r.leased) + " in progress, " + count(r.failing_count) + " failing, " +
    count(r.unrepairable_count) + " unrepairable."));
  const problems = r.failing.concat(r.unrepairable);
  if (problems.length > 0) {
    parts.push(table(["Bucket", "Key", "Copy on", "Attempts", "Last error"],
      problems.map((p) => el("tr", {},
        el("td", {}, p.container), el("td", {}, p.key), el("td", {}, p.service),
        el("td", {}, count(p.attempts)), el("td", {}, p.last_error || "")))));
  }
  fill("rebuild", parts);
}

function renderGc(g, now) {
  const parts = [el("p", { class: "summary" },
    count(g.due) + " chunk deletions due, " + count(g.waiting) + " in their grace period.")];
  const busy = g.services.filter((s) => s.due + s.waiting > 0);
  if (busy.length > 0) {
    parts.push(table(["Server", "Due", "Waiting", "Next due in"], busy.map((s) =>
      el("tr", { "data-service": s.service },
        el("td", {}, s.addr || s.service),
        el("td", {}, count(s.due)),
        el("td", {}, count(s.waiting)),
        el("td", {}, s.next_due_ms ? seconds(Math.max(0, s.next_due_ms - now)) : "-")))));
  }
  fill("gc", parts);
}

function renderAccounts(a) {
  if (a.accounts.length === 0) {
    fill("accounts", el("p", {}, "No account yet."));
    return;
  }
  const rows = [];
  for (const acc of a.accounts) {
    rows.push(el("tr", { class: "account", "data-account": acc.name },
      el("td", {}, el("strong", {}, acc.name)),
      el("td", {}, plural(acc.containers, "bucket")),
      el("td", {}, ""),
      el("td", { class: "num" }, count(acc.objects)),
      el("td", { class: "num" }, bytes(acc.bytes))));
    if (acc.error) {
      rows.push(el("tr", {}, el("td", {}, ""), el("td", { class: "error", colspan: 4 }, acc.error)));
    }
    for (const b of acc.buckets) {
      rows.push(el("tr", { class: "bucket", "data-bucket": b.name },
        el("td", {}, ""),
        el("td", {}, b.name),
        el("td", {}, b.policy || "default policy"),
        el("td", { class: "num" }, count(b.objects)),
        el("td", { class: "num" }, bytes(b.bytes))));
    }
  }
  const parts = [table(["Account", "Bucket", "Policy", "Objects", "Bytes"], rows)];
  if (a.left_out > 0) parts.push(el("p", { class: "summary" }, a.left_out + " more accounts not shown."));
  fill("accounts", parts);
}

function renderPolicies(p) {
  fill("policies",
    el("p", { class: "summary" }, p.source === "file"
      ? "From the applied policy file."
      : "Built in (no policy file applied): the gateway's replicas and chunk size."),
    table(["Policy", "Protection", "Chunk size", "Min distance", "Pool", "Write quorum", "Storage classes", "Placeable now"],
      p.policies.map((x) => el("tr", { "data-policy": x.name },
        el("td", {}, x.name + (x.default ? " (default)" : "")),
        el("td", {}, x.protection),
        el("td", {}, bytes(x.chunk_size)),
        el("td", {}, String(x.min_distance)),
        el("td", {}, x.pool),
        el("td", {}, String(x.write_quorum)),
        el("td", {}, x.storage_classes.join(", ") || "-"),
        el("td", { class: x.placeable ? "ok" : "bad", title: x.check }, x.placeable ? "yes" : "no: " + x.check)))));
}

const SECTIONS = [
  ["cluster", "map", renderCluster],
  ["rebuild", "rebuild", renderRebuild],
  ["gc", "gc", renderGc],
  ["accounts", "accounts", renderAccounts],
  ["policies", "policies", renderPolicies],
];

async function refresh() {
  const status = document.getElementById("status");
  let answer;
  try {
    answer = await fetch("/console/api/overview", { credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    status.textContent = "gateway unreachable: " + e.message;
    status.className = "status stale";
    return;
  }
  if (answer.status === 401) {
    // The session ended (logout elsewhere, expiry, restart): back to the login form.
    window.location.assign("/console");
    return;
  }
  if (!answer.ok) {
    status.textContent = "refresh failed: HTTP " + answer.status;
    status.className = "status stale";
    return;
  }
  const data = await answer.json();
  let errors = 0;
  for (const [key, target, render] of SECTIONS) {
    const part = data[key];
    if (part && "Ok" in part) {
      render(part.Ok, data.now_ms);
    } else {
      errors += 1;
      failed(target, part ? part.Err : "no answer");
    }
  }
  status.textContent = "updated " + new Date(data.now_ms).toLocaleTimeString("en-GB") +
    (errors > 0 ? " (" + errors + " sections failed)" : "");
  status.className = errors > 0 ? "status stale" : "status fresh";
}

async function loop() {
  try {
    await refresh();
  } finally {
    window.setTimeout(loop, REFRESH_MS);
  }
}

document.addEventListener("DOMContentLoaded", loop);
