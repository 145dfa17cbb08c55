"""The built-in overview page (``GET /overview`` on the embedded SQL endpoint).

``make run`` has no Grafana, so the process that owns chDB also serves one small
read-only page with the headline numbers: events today, users, funnel conversion, top
channels, fission, lifecycle, retention and pipeline health. The page asks the same SQL
endpoint (``/?query=…``) for the views the dashboards use; no script or style is
loaded from elsewhere. The page needs a project's read key like every query: basic auth
(the browser asks) or ``/overview?key=<read key>``, which the page sends on as
``X-Siyu-Key``.
"""

from __future__ import annotations

# ruff: noqa: E501 - the page is embedded HTML, CSS and JavaScript
from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ["OVERVIEW_HTML", "overview"]

OVERVIEW_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>siyu · overview</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f6f8;color:#1d2433}
header{background:#1d2433;color:#fff;padding:14px 24px;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:18px;margin:0}header span{opacity:.7;font-size:12px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:16px;padding:16px 24px}
section{background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475;margin:0 0 10px}
.kpis{grid-column:1/-1;display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:16px;background:none;box-shadow:none;padding:0}
.kpi{background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi b{display:block;font-size:28px;font-weight:600}.kpi small{color:#5b6475}
.bar{display:grid;grid-template-columns:120px 1fr 60px;align-items:center;gap:8px;margin:4px 0;font-size:12px}
.bar i{display:block;height:14px;background:#3b82f6;border-radius:3px;min-width:2px}
.bar em{font-style:normal;text-align:right;color:#5b6475}
table{width:100%;border-collapse:collapse;font-size:12px}td,th{padding:3px 4px;text-align:right}td:first-child,th:first-child{text-align:left}
th{color:#5b6475;font-weight:500}.empty{color:#8a93a5;font-size:12px}.err{color:#b91c1c}
</style></head>
<body data-ready="0" data-errors="0">
<header><h1>siyu · overview</h1><span id="stamp"></span></header>
<main>
<div class="kpis">
 <div class="kpi"><small>events today</small><b id="k-events">–</b></div>
 <div class="kpi"><small>users today</small><b id="k-dau">–</b></div>
 <div class="kpi"><small>users (all time)</small><b id="k-users">–</b></div>
 <div class="kpi"><small>commerce conversion (pay / visit)</small><b id="k-conv">–</b></div>
 <div class="kpi"><small>fission K-factor</small><b id="k-k">–</b></div>
 <div class="kpi"><small>dead letters (24 h)</small><b id="k-dl">–</b></div>
</div>
<section><h2>Commerce funnel (last 7 entry days)</h2><div id="funnel"></div></section>
<section><h2>Top channels (new users)</h2><div id="channels"></div></section>
<section><h2>Fission funnel (sharers)</h2><div id="fission"></div></section>
<section><h2>Top spreaders (KOC)</h2><div id="koc"></div></section>
<section><h2>Lifecycle</h2><div id="lifecycle"></div></section>
<section><h2>Retention by cohort</h2><div id="retention"></div></section>
<section><h2>Pipeline: events per hour (24 h)</h2><div id="hourly"></div></section>
</main>
<script>
"use strict";
const Q = {
  events: "SELECT count() AS n FROM siyu.events WHERE time >= toStartOfDay(now())",
  dau: "SELECT uniqExact(user_id) AS n FROM siyu.events_current WHERE date = today()",
  users: "SELECT uniqExact(user_id) AS n FROM siyu.events_current",
  funnel: "SELECT step, any(step_name) AS name, sum(users) AS n FROM siyu.funnel_counts WHERE funnel = 'commerce' AND day >= today() - 6 GROUP BY step ORDER BY step",
  channels: "SELECT channel AS name, sum(new_users) AS n FROM siyu.acquisition GROUP BY channel ORDER BY n DESC LIMIT 8",
  fission: "SELECT step, any(step_name) AS name, sum(users) AS n FROM siyu.funnel_counts WHERE funnel = 'fission' GROUP BY step ORDER BY step",
  kfactor: "SELECT round(sum(converted) / greatest(sum(sharers), 1), 3) AS n FROM siyu.fission_kfactor",
  koc: "SELECT sharer, invitees, registered, ordered FROM siyu.fission_koc ORDER BY ordered DESC, registered DESC, invitees DESC LIMIT 6",
  lifecycle: "SELECT stage AS name, users AS n FROM siyu.lifecycle_distribution ORDER BY n DESC",
  retention: "SELECT toString(cohort_day) AS cohort, sum(users) AS cohort_users, round(sum(d1) / cohort_users, 3) AS d1_rate, round(sum(d7) / cohort_users, 3) AS d7_rate, round(sum(d30) / cohort_users, 3) AS d30_rate FROM siyu.retention GROUP BY cohort_day ORDER BY cohort_day DESC LIMIT 7",
  hourly: "SELECT toStartOfHour(time) AS h, formatDateTime(h, '%H:00') AS name, count() AS n FROM siyu.events WHERE time >= now() - INTERVAL 24 HOUR GROUP BY h, name ORDER BY h",
  dead: "SELECT count() AS n FROM siyu.dead_letters WHERE received_at >= now() - INTERVAL 24 HOUR",
};
// The read key: ?key= of the page, else the browser's basic-auth credentials.
const KEY = new URLSearchParams(location.search).get("key");
const AUTH = KEY ? {"X-Siyu-Key": KEY} : {};
const fmt = new Intl.NumberFormat("en-US");
async function query(sql) {
  const r = await fetch("./?default_format=JSON&query=" + encodeURIComponent(sql), {headers: AUTH});
  if (!r.ok) throw new Error((await r.text()).slice(0, 200));
  return (await r.json()).data;
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  if (text !== undefined) e.textContent = text;
  return e;
}
function bars(id, rows) {
  const box = document.getElementById(id);
  box.replaceChildren();
  if (!rows.length) { box.append(el("div", {className: "empty"}, "no data yet")); return; }
  const max = Math.max(...rows.map(r => Number(r.n)), 1);
  for (const r of rows) {
    const line = el("div", {className: "bar"});
    const fill = el("i");
    fill.style.width = (100 * Number(r.n) / max).toFixed(1) + "%";
    const track = el("span"); track.append(fill);
    line.append(el("span", {}, r.name || "(none)"), track, el("em", {}, fmt.format(Number(r.n))));
    box.append(line);
  }
}
function table(id, rows) {
  const box = document.getElementById(id);
  box.replaceChildren();
  if (!rows.length) { box.append(el("div", {className: "empty"}, "no data yet")); return; }
  const t = el("table"), head = el("tr");
  for (const k of Object.keys(rows[0])) head.append(el("th", {}, k));
  t.append(head);
  for (const r of rows) {
    const tr = el("tr");
    for (const v of Object.values(r)) tr.append(el("td", {}, String(v)));
    t.append(tr);
  }
  box.append(t);
}
function kpi(id, value) { document.getElementById(id).textContent = value; }
async function load() {
  const jobs = {
    events: async () => kpi("k-events", fmt.format((await query(Q.events))[0].n)),
    dau: async () => kpi("k-dau", fmt.format((await query(Q.dau))[0].n)),
    users: async () => kpi("k-users", fmt.format((await query(Q.users))[0].n)),
    funnel: async () => {
      const rows = await query(Q.funnel);
      bars("funnel", rows);
      const first = rows[0], last = rows[rows.length - 1];
      kpi("k-conv", first ? (100 * Number(last.n) / Number(first.n)).toFixed(1) + "%" : "–");
    },
    channels: async () => bars("channels", await query(Q.channels)),
    fission: async () => bars("fission", await query(Q.fission)),
    kfactor: async () => kpi("k-k", String((await query(Q.kfactor))[0].n)),
    koc: async () => table("koc", await query(Q.koc)),
    lifecycle: async () => bars("lifecycle", await query(Q.lifecycle)),
    retention: async () => table("retention", await query(Q.retention)),
    hourly: async () => bars("hourly", await query(Q.hourly)),
    dead: async () => kpi("k-dl", fmt.format((await query(Q.dead))[0].n)),
  };
  let errors = 0;
  await Promise.all(Object.entries(jobs).map(async ([name, job]) => {
    try { await job(); } catch (e) {
      errors += 1;
      console.error(name + ": " + e.message);
    }
  }));
  document.body.dataset.errors = String(errors);
  document.getElementById("stamp").textContent = "updated " + new Date().toISOString().slice(0, 19) + "Z";
  document.body.dataset.ready = "1";
}
load();
setInterval(load, 30000);
</script>
</body></html>
"""


async def overview(_: Request) -> HTMLResponse:
    return HTMLResponse(OVERVIEW_HTML)
