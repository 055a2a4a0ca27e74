// Drives the server's page in headless Chromium the way a person would: waits for the pack list,
// picks a pack, types the API key and a text, clicks "Tag", waits for the result, then reads the
// highlighted entities back out of the DOM and saves a screenshot.
//
// No npm packages: Chromium is driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: the browser reads commands on fd 3 and writes on fd 4, each message
// JSON ended by a NUL byte).
//
//   node tests/browser/page-test.mjs URL PACK TEXT SCREENSHOT.png [KEY]
//
// Prints {"marks": [{"text", "label", "score"}], "plain": "..."} on stdout (`plain`: the shown
// text without the label tags, which must be the text given). CHROMIUM names
// the browser binary (default: chromium). Exits non-zero, with the reason, on any failure or
// after 60 s.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, pack, text, shot, key = ""] = process.argv.slice(2);
if (!shot) {
  console.error("usage: page-test.mjs URL PACK TEXT SCREENSHOT.png [KEY]");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "lightner-chromium-"));
const browser = spawn(
  process.env.CHROMIUM || "chromium",
  [
    "--headless",
    "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--no-first-run",
    "--remote-debugging-pipe",
    `--user-data-dir=${profile}`,
    "--window-size=1000,640",
    "about:blank",
  ],
  { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
);
let stderr = "";
browser.stderr.on("data", (d) => (stderr += d));
// The profile is removed once the browser is gone (it writes there until it exits); best effort.
const cleanUp = () => {
  try {
    rmSync(profile, { recursive: true, force: true });
  } catch {}
};
const exited = new Promise((resolve) => browser.once("exit", resolve));
const fail = (why) => {
  console.error(`page test: ${why}`);
  if (stderr) console.error(`chromium said:\n${stderr.slice(-2000)}`);
  browser.kill("SIGKILL");
  exited.then(cleanUp);
  setTimeout(() => process.exit(1), 2000).unref();
  process.exitCode = 1;
};
browser.on("error", (e) => fail(`cannot start chromium: ${e.message}`));
setTimeout(() => fail("no result within 60 s"), 60_000).unref();

// The protocol: numbered commands answered by id; events by method.
const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const pending = new Map();
const waiters = [];
let buffered = Buffer.alloc(0);
fromBrowser.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  let end;
  while ((end = buffered.indexOf(0)) >= 0) {
    const msg = JSON.parse(buffered.subarray(0, end).toString("utf8"));
    buffered = buffered.subarray(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject, method } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result);
    } else if (msg.method) {
      for (const w of waiters.filter((w) => w.method === msg.method)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msg.params);
      }
    }
  }
});
const send = (method, params = {}, sessionId) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, method });
    toBrowser.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  });
const event = (method) => new Promise((resolve) => waiters.push({ method, resolve }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  const evaluate = async (expression) => {
    const r = await page("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.text} (${expression})`);
    return r.result.value;
  };
  const until = async (what, expression) => {
    for (let i = 0; i < 200; i++) {
      const v = await evaluate(expression);
      if (v) return v;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  await page("Page.enable");
  const loaded = event("Page.loadEventFired");
  await page("Page.navigate", { url });
  await loaded;
  // A key is typed like a person would: the field's change event reloads the pack list.
  await evaluate(`(() => {
    const k = document.getElementById("key");
    k.value = ${JSON.stringify(key)};
    k.dispatchEvent(new Event("change"));
    return true;
  })()`);
  await until(
    `pack ${pack} in the list`,
    `[...document.querySelectorAll("#pack option")].some((o) => o.value === ${JSON.stringify(pack)} && !o.disabled)`,
  );
  await evaluate(`(() => {
    document.getElementById("pack").value = ${JSON.stringify(pack)};
    document.getElementById("text").value = ${JSON.stringify(text)};
    document.getElementById("go").click();
    return true;
  })()`);
  await until("the tagged text", `document.getElementById("out").textContent.length > 0`);
  const result = await evaluate(`(() => ({
    marks: [...document.querySelectorAll("#out mark.entity")].map((m) => ({
      text: m.firstChild.textContent,
      label: m.dataset.label,
      score: Number(m.dataset.score),
    })),
    plain: (() => {
      const out = document.getElementById("out").cloneNode(true);
      out.querySelectorAll("small, .note").forEach((e) => e.remove());
      return out.textContent;
    })(),
  }))()`);
  const { data } = await page("Page.captureScreenshot", { format: "png" });
  writeFileSync(shot, Buffer.from(data, "base64"));
  console.log(JSON.stringify(result));
  await send("Browser.close").catch(() => {});
  await Promise.race([exited, sleep(5000)]);
  browser.kill("SIGKILL");
  cleanUp();
  process.exit(0);
} catch (e) {
  fail(e.message);
}
