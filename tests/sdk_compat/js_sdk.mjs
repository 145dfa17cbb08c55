// Drives the real sa-sdk-javascript in headless Chromium against a siyu collector.
// Usage: node js_sdk.mjs <collector base url> <run id> <send type>...   (image ajax beacon batch)
// Serves a shop page from another origin (so CORS is exercised), runs the SDK once per send
// type in a fresh browser context, and prints one JSON line: per type, the SDK's ids and the
// requests the page made to the collector with their status.
// With SDK_TEXTS (JSON {case: text}) in the environment, it also tracks one `unicode_text`
// event per case ({case_id, value, list: [value]}), sets a profile and an item with them,
// and raises the SDK's max_string_length so that long strings are sent whole.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [collector, runId, ...types] = process.argv.slice(2);
const texts = process.env.SDK_TEXTS ? JSON.parse(process.env.SDK_TEXTS) : null;
const sdk = fs.readFileSync(require.resolve("sa-sdk-javascript/sensorsdata.min.js"));
const page = `<!doctype html><html><head><meta charset="utf-8"><title>商品详情</title>
<script src="/sensorsdata.min.js"></script></head><body><h1>item</h1></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/sensorsdata.min.js")) {
    res.writeHead(200, { "content-type": "application/javascript" });
    res.end(sdk);
  } else {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page);
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const results = {};
try {
  for (const type of types) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const requests = [];
    let inFlight = 0;
    tab.on("request", (r) => { if (r.url().startsWith(collector)) inFlight += 1; });
    tab.on("requestfinished", async (r) => {
      if (!r.url().startsWith(collector)) return;
      const answer = await r.response();
      requests.push({ method: r.method(), url: r.url().slice(0, 160), status: answer && answer.status(),
                      cors: answer && answer.headers()["access-control-allow-origin"] });
      inFlight -= 1;
    });
    tab.on("requestfailed", (r) => {
      if (!r.url().startsWith(collector)) return;
      requests.push({ method: r.method(), url: r.url().slice(0, 160), failure: r.failure()?.errorText });
      inFlight -= 1;
    });
    await tab.goto(`${origin}/shop/item.html?utm_source=sdk-${type}&utm_campaign=${runId}`);
    const ids = await tab.evaluate(async ({ collector, runId, type, texts }) => {
      const sensors = window.sensorsDataAnalytic201505;
      const para = {
        server_url: `${collector}/sa?project=default`,
        send_type: type === "batch" ? "ajax" : type,
        is_track_single_page: false,
        show_log: false,
        heatmap: {},
      };
      if (type === "batch") para.batch_send = { send_interval: 500, datasend_timeout: 6000 };
      if (texts) para.max_string_length = 20000;
      sensors.init(para);
      sensors.quick("autoTrack");
      sensors.track("view_product", { product_id: `${runId}-${type}-p1`, price: 12.5,
                                      tags: ["a", "b"], detail: { color: "red" } });
      const anonymousId = sensors.quick("getAnonymousID");
      sensors.login(`${runId}-${type}-user`);
      sensors.track("pay_order", { order_id: `${runId}-${type}-o1`, amount: 99 });
      sensors.setProfile({ vip: true, city: "深圳" });
      if (texts) {
        for (const [name, text] of Object.entries(texts)) {
          sensors.track("unicode_text", { case_id: name, value: text, list: [text] });
          // Chromium drops a beacon while the beacons in flight exceed 64 KB in total
          // (the long case alone is ~50 KB): one at a time.
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        sensors.setProfile({ nickname: texts.zwj, signature: texts.rtl });
        sensors.setItem("article", `${runId}-${type}-a1`, { title: texts.emoji, content_tags: [texts.cjk] });
        sensors.setItem("article", `${runId}-${type}-a2`, { title: "gone" });
        sensors.deleteItem("article", `${runId}-${type}-a2`);
      }
      return { anonymous_id: anonymousId, login_id: `${runId}-${type}-user` };
    }, { collector, runId, type, texts });
    const deadline = Date.now() + 20000;
    let quiet = 0;
    while (quiet < 6 && Date.now() < deadline) {
      await sleep(250);
      quiet = inFlight <= 0 && requests.length > 0 ? quiet + 1 : 0;
    }
    results[type] = { ...ids, requests };
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(results) + "\n");
