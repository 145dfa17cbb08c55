"""The built-in overview page (``GET /overview`` on the embedded SQL endpoint).

``make run`` has no Grafana, so the process that owns chDB also serves one small
read-only page with the headline numbers of one project (selector) over a period (today,
7 or 30 days of the project's timezone, shown in the header): events, active users,
funnel conversion, top channels, fission, lifecycle, RFM, retention, and pipeline health
(records behind per stage from ``GET /overview/health``, dead letters by reason). The
page asks the same SQL endpoint (``/?query=…``) for the views the dashboards use; a query
that fails shows its error on the page. No script or style is loaded from elsewhere. The
page needs a project's read key like every query: basic auth (the browser asks) or
``/overview?key=<read key>``, which the page sends on as ``X-Siyu-Key``; a project's key
sees its own project only.
"""

from __future__ import annotations

# ruff: noqa: E501 - the page is embedded HTML, CSS and JavaScript
import logging
import re

from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from sinks.definitions import quote
from siyu.inspect import pipeline_lag
from siyu.settings import Settings

__all__ = ["OVERVIEW_HTML", "overview", "overview_health", "overview_queries"]

logger = logging.getLogger(__name__)

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
header select{margin-left:8px}#errors{grid-column:1/-1;display:none}#errors.shown{display:block}
</style></head>
<body data-ready="0" data-errors="0">
<header><h1>siyu · overview</h1><span>project <select id="project"></select> period <select id="period"><option value="1">today</option><option value="7" selected>7 days</option><option value="30">30 days</option></select> · timezone <b id="tz">–</b> · <span id="stamp"></span></span></header>
<main>
<section id="errors" class="err"><h2>Query errors</h2><div id="error-list"></div></section>
<div class="kpis">
 <div class="kpi"><small>events</small><b id="k-events">–</b></div>
 <div class="kpi"><small>active users</small><b id="k-dau">–</b></div>
 <div class="kpi"><small>new users</small><b id="k-new">–</b></div>
 <div class="kpi"><small>users (all time)</small><b id="k-users">–</b></div>
 <div class="kpi"><small>commerce conversion (last step / entered)</small><b id="k-conv">–</b></div>
 <div class="kpi"><small>fission K-factor (successful invitees / sharers)</small><b id="k-k">–</b></div>
 <div class="kpi"><small>dead letters</small><b id="k-dl">–</b></div>
</div>
<section><h2>Commerce funnel (entry days of the period)</h2><div id="funnel"></div></section>
<section><h2>Top channels (new users)</h2><div id="channels"></div></section>
<section><h2>Fission funnel (sharers)</h2><div id="fission"></div></section>
<section><h2>Key spreaders (descendants at any depth)</h2><div id="koc"></div></section>
<section><h2>Lifecycle (live tags)</h2><div id="lifecycle"></div></section>
<section><h2>RFM segments (live tags)</h2><div id="rfm"></div></section>
<section><h2>Retention by cohort</h2><div id="retention"></div></section>
<section><h2>Events per hour (24 h, local)</h2><div id="hourly"></div></section>
<section><h2>Pipeline: records behind per stage</h2><div id="health"></div></section>
<section><h2>Dead letters by reason</h2><div id="dead"></div></section>
</main>
<script>
"use strict";
const S = {project: "", tz: "UTC", days: 7};
const lit = v => "'" + String(v).replaceAll("\\\\", "\\\\\\\\").replaceAll("'", "\\\\'") + "'";
// Queries of the page: {P} the project condition, {TZ} its zone, {D0} / {T0} the first
// day / instant of the period.
const QUERIES = {
  events: "SELECT count() AS n FROM siyu.events WHERE {P} AND time >= {T0}",
  dau: "SELECT uniqExact(user_id) AS n FROM siyu.user_days_current WHERE {P} AND date >= {D0}",
  newusers: "SELECT count() AS n FROM siyu.user_first_touch WHERE {P} AND cohort_day >= {D0}",
  users: "SELECT count() AS n FROM siyu.user_first_touch WHERE {P}",
  kfactor: "SELECT k_factor AS n FROM siyu.fission_kfactor_total WHERE {P}",
  dead: "SELECT count() AS n FROM siyu.dead_letters WHERE {P} AND received_at >= {T0}",
  funnel: "SELECT step, any(step_name) AS name, sum(users) AS n FROM siyu.funnel_counts WHERE {P} AND funnel = 'commerce' AND day >= {D0} GROUP BY step ORDER BY step",
  channels: "SELECT channel AS name, sum(new_users) AS n FROM siyu.acquisition WHERE {P} AND day >= {D0} GROUP BY channel ORDER BY n DESC, name LIMIT 8",
  fission: "SELECT step, any(step_name) AS name, sum(users) AS n FROM siyu.funnel_counts WHERE {P} AND funnel = 'fission' AND day >= {D0} GROUP BY step ORDER BY step",
  koc: "SELECT sharer, invitees, descendants, subtree_depth AS depth, converted_below FROM siyu.fission_koc WHERE {P} ORDER BY descendants DESC, converted_below DESC, sharer LIMIT 6",
  lifecycle: "SELECT stage AS name, users AS n FROM siyu.lifecycle_distribution WHERE {P} ORDER BY n DESC, name",
  rfm: "SELECT concat(segment_name, ' (', segment, ')') AS name, users AS n FROM siyu.rfm_distribution WHERE {P} ORDER BY n DESC, name",
  retention: "SELECT toString(cohort_day) AS cohort, sum(users) AS cohort_users, round(sum(d1) / cohort_users, 3) AS d1_rate, round(sum(d7) / cohort_users, 3) AS d7_rate, round(sum(d30) / cohort_users, 3) AS d30_rate FROM siyu.retention WHERE {P} AND cohort_day >= {D0} GROUP BY cohort_day ORDER BY cohort_day DESC LIMIT 7",
  hourly: "SELECT toStartOfHour(time) AS h, formatDateTime(toTimeZone(h, {TZ}), '%d %H:00') AS name, count() AS n FROM siyu.events WHERE {P} AND time >= now() - INTERVAL 24 HOUR GROUP BY h, name ORDER BY h",
  reasons: "SELECT reason AS name, count() AS n FROM siyu.dead_letters WHERE {P} AND received_at >= {T0} GROUP BY reason ORDER BY n DESC, name LIMIT 8",
};
function Q() {
  const TZ = lit(S.tz), D0 = "toDate(now(), " + TZ + ") - " + (S.days - 1);
  const v = {P: "project = " + lit(S.project), TZ: TZ, D0: D0, T0: "toDateTime(" + D0 + ", " + TZ + ")"};
  return Object.fromEntries(Object.entries(QUERIES).map(([k, q]) => [k, q.replace(/[{](P|TZ|D0|T0)[}]/g, (_, n) => v[n])]));
}
const fmt = new Intl.NumberFormat("en-US");
// The read key: ?key= of the page, else the browser's basic-auth credentials.
const KEY = new URLSearchParams(location.search).get("key");
const AUTH = KEY ? {"X-Siyu-Key": KEY} : {};
async function query(sql) {
  const r = await fetch("./?default_format=JSON&query=" + encodeURIComponent(sql), {headers: AUTH});
  if (!r.ok) throw new Error((await r.text()).slice(0, 300));
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
    line.dataset.name = r.name || "";
    line.dataset.value = String(r.n);
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
function kpi(id, value, raw) {
  const e = document.getElementById(id);
  e.textContent = value;
  e.dataset.value = String(raw);
}
async function health() {
  const box = document.getElementById("health");
  const r = await fetch("./overview/health", {headers: AUTH});
  const doc = await r.json();
  if (!r.ok) { box.replaceChildren(el("div", {className: "empty"}, "unavailable: " + doc.error.message)); return; }
  table("health", doc.stages.map(s => ({stage: s.stage, topic: s.topic, behind: s.behind})));
}
async function load() {
  const q = Q();
  const one = async (name) => { const rows = await query(q[name]); return rows.length ? rows[0].n : 0; };
  const jobs = {
    events: async () => { const n = await one("events"); kpi("k-events", fmt.format(n), n); },
    dau: async () => { const n = await one("dau"); kpi("k-dau", fmt.format(n), n); },
    newusers: async () => { const n = await one("newusers"); kpi("k-new", fmt.format(n), n); },
    users: async () => { const n = await one("users"); kpi("k-users", fmt.format(n), n); },
    funnel: async () => {
      const rows = await query(q.funnel);
      bars("funnel", rows);
      const first = rows[0], last = rows[rows.length - 1];
      const rate = first ? Number(last.n) / Number(first.n) : 0;
      kpi("k-conv", first ? (100 * rate).toFixed(1) + "%" : "–", rate);
    },
    channels: async () => bars("channels", await query(q.channels)),
    fission: async () => bars("fission", await query(q.fission)),
    kfactor: async () => { const n = await one("kfactor"); kpi("k-k", String(n), n); },
    koc: async () => table("koc", await query(q.koc)),
    lifecycle: async () => bars("lifecycle", await query(q.lifecycle)),
    rfm: async () => bars("rfm", await query(q.rfm)),
    retention: async () => table("retention", await query(q.retention)),
    hourly: async () => bars("hourly", await query(q.hourly)),
    dead: async () => { const n = await one("dead"); kpi("k-dl", fmt.format(n), n); },
    reasons: async () => bars("dead", await query(q.reasons)),
  };
  const failed = [];
  await Promise.all([health().catch(() => {}), ...Object.entries(jobs).map(async ([name, job]) => {
    try { await job(); } catch (e) { failed.push(name + ": " + e.message); }
  })]);
  const list = document.getElementById("error-list");
  list.replaceChildren(...failed.sort().map(m => el("pre", {}, m)));
  document.getElementById("errors").className = failed.length ? "err shown" : "err";
  document.body.dataset.errors = String(failed.length);
  document.getElementById("stamp").textContent = "updated " + new Date().toISOString().slice(0, 19) + "Z";
  document.body.dataset.ready = "1";
}
async function start() {
  const projects = await query("SELECT project, timezone FROM siyu.project_zones ORDER BY project");
  const select = document.getElementById("project");
  for (const p of projects) select.append(el("option", {value: p.project}, p.project));
  const wanted = new URLSearchParams(location.search);
  const pick = projects.find(p => p.project === wanted.get("project")) || projects[0];
  const choose = (p) => { S.project = p.project; S.tz = p.timezone; document.getElementById("tz").textContent = p.timezone; select.value = p.project; };
  choose(pick);
  if (["1", "7", "30"].includes(wanted.get("period"))) document.getElementById("period").value = wanted.get("period");
  S.days = Number(document.getElementById("period").value);
  select.onchange = () => { choose(projects.find(p => p.project === select.value)); load(); };
  document.getElementById("period").onchange = (e) => { S.days = Number(e.target.value); load(); };
  await load();
}
start().catch(e => {
  document.getElementById("error-list").replaceChildren(el("pre", {}, "projects: " + e.message));
  document.getElementById("errors").className = "err shown";
  document.body.dataset.errors = "1";
  document.body.dataset.ready = "1";
});
setInterval(() => { if (S.project) load(); }, 30000);
</script>
</body></html>
"""


def overview_queries(project: str, zone: str, days: int) -> dict[str, str]:
    """The page's queries filled as its script fills them (benchmarks and tests)."""
    found = re.findall(r'^  (\w+): "(SELECT .*)",$', OVERVIEW_HTML, re.M)
    tz = quote(zone)
    d0 = f"toDate(now(), {tz}) - {days - 1}"
    values = {"P": f"project = {quote(project)}", "TZ": tz, "D0": d0}
    values["T0"] = f"toDateTime({d0}, {tz})"
    return {name: re.sub(r"[{](P|TZ|D0|T0)[}]", lambda m: values[m[1]], sql) for name, sql in found}


async def overview(_: Request) -> HTMLResponse:
    return HTMLResponse(OVERVIEW_HTML)


async def overview_health(settings: Settings) -> JSONResponse:
    """Records behind per stage (consumer group and topic) of the pipeline."""
    try:
        lag = await pipeline_lag(settings)
    except (KafkaError, OSError) as exc:
        logger.warning("pipeline lag unavailable: %s", exc)
        return _error(503, "broker_unreachable", f"broker unreachable: {exc}")
    stages = [
        {"stage": group, "topic": topic, "committed": c, "end": e, "behind": max(0, e - c)}
        for (group, topic), (c, e) in sorted(lag.items())
    ]
    return JSONResponse({"stages": stages})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
