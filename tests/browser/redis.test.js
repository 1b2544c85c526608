// Two axum_chat --redis instances, one Chromium page on each: alice on
// instance A and bob on instance B chat with each other through a real
// redis-server started here (a loopback port it holds, no persistence,
// a password), each sees the online count, and bob's page sees alice's
// leave when her page closes. Then carol's page on A: A is killed, bob
// sees her leave within the presence expiry, and her page reconnects once
// A is back on the same address: it resumes from its last post id (bob's
// post made while A was down shows once) and sends again what it posted
// while disconnected (shown once on both pages, acknowledged). Last, B
// is stopped with SIGTERM (bob's page sees 1001) and started again while
// carol posts: bob's page comes back and shows each post once.
//
// Usage: node redis.test.js PATH/TO/axum_chat [PATH/TO/redis-server]
// (scripts/browser_test.sh builds the example and runs this.)
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { chromium } = require("playwright-core");

const [serverBin, redisBin = "/usr/bin/redis-server"] = process.argv.slice(2);
if (!serverBin) {
  console.error("usage: node redis.test.js PATH/TO/axum_chat [PATH/TO/redis-server]");
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 15000;
const PASSWORD = "browser-test";

const children = [];
let context = null;
let profile = null;
let dir = null;

const watchdog = setTimeout(() => fail(new Error("timed out after 60 s")), 60000);

function log(...args) {
  console.log("redis browser test:", ...args);
}

async function cleanup() {
  clearTimeout(watchdog);
  if (context) await context.close().catch(() => {});
  for (const child of children) child.kill("SIGKILL");
  for (const d of [profile, dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
}

async function fail(error) {
  console.error("redis browser test FAILED:", error);
  await cleanup();
  process.exit(1);
}

// A port for redis-server, which needs a number: below the kernel's
// ephemeral range, so that no port-0 bind (another test's server) or
// outgoing connection is handed it meanwhile; spread by process and try.
function candidatePort(attempt) {
  let low = 32768;
  try {
    low = parseInt(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0], 10) || low;
  } catch (_) {}
  const span = Math.max(low - 20000, 1000);
  return 20000 + ((process.pid * 7919 + attempt * 104729) % span);
}

// Starts redis-server on `port` and resolves once it says it is ready
// (it says so only once it holds the port); rejects if it exits first,
// as it does when the port is taken.
function runRedis(port) {
  const redis = spawn(
    redisBin,
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no",
      "--requirepass", PASSWORD, "--dir", dir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(redis);
  return new Promise((resolve, reject) => {
    redis.on("error", reject);
    redis.on("exit", (code) => reject(new Error(`redis-server exited (${code})`)));
    readline.createInterface({ input: redis.stdout }).on("line", (line) => {
      if (line.includes("Ready to accept connections")) resolve();
    });
  });
}

// Starts redis-server on a port it holds (another try on another port if
// one is taken) and resolves with its URL.
async function startRedis() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsproto-redis-"));
  let lastError;
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = candidatePort(attempt);
    try {
      await runRedis(port);
      return `redis://:${PASSWORD}@127.0.0.1:${port}`;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

// Starts an instance (on a free port unless given an address) and resolves
// with its address and process once Redis is up for it.
function startInstance(redisUrl, at = "127.0.0.1:0") {
  return new Promise((resolve, reject) => {
    const server = spawn(serverBin, [at, "--redis", redisUrl, "--presence-ttl", "2"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(server);
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`axum_chat exited (${code})`)));
    // Either line may come first: the relay starts before the listener.
    let addr = null;
    let up = false;
    readline.createInterface({ input: server.stdout }).on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m) addr = m[1];
      if (line.startsWith("redis up")) up = true;
      if (up && addr) resolve({ addr, server });
    });
  });
}

async function openChat(addr, name) {
  const page = await context.newPage();
  page.on("pageerror", (e) => fail(new Error(`${name}: page error: ${e.message}`)));
  await page.goto(`http://${addr}/?name=${name}&room=lobby`);
  await page.waitForSelector('#state[data-state="open"]', { timeout: STEP_TIMEOUT });
  await waitForLine(page, `* you are ${name}`);
  // The first "* N online" comes once the instance has subscribed to the
  // room: from then on the page gets what other instances post.
  await page.waitForFunction(
    () => [...document.querySelectorAll("#log li")].some((li) => /^\* \d+ online$/.test(li.textContent)),
    null,
    { timeout: STEP_TIMEOUT },
  );
  log(`${name} connected to ${addr}`);
  return page;
}

function waitForLine(page, line) {
  return page.waitForFunction(
    (want) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === want),
    line,
    { timeout: STEP_TIMEOUT },
  );
}

async function main() {
  const redisUrl = await startRedis();
  const { addr: a, server: serverA } = await startInstance(redisUrl);
  const { addr: b, server: serverB } = await startInstance(redisUrl);
  log(`redis-server up, instances on ${a} and ${b}`);

  profile = fs.mkdtempSync(path.join(os.tmpdir(), "wsproto-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });

  const alice = await openChat(a, "alice");
  const bob = await openChat(b, "bob");
  await waitForLine(alice, "* bob joined");
  await waitForLine(alice, "* 2 online");
  await waitForLine(bob, "* 2 online");
  log("alice (A) saw bob (B) join; both see 2 online");

  await alice.fill("#text", "hello from A");
  await alice.press("#text", "Enter");
  await waitForLine(bob, "alice: hello from A");
  log("bob on B received alice's message from A");

  await bob.fill("#text", "hi from B");
  await bob.click("#send");
  await waitForLine(alice, "bob: hi from B");
  log("alice on A received bob's message from B");

  const carol = await openChat(a, "carol");
  await waitForLine(bob, "* carol joined");
  await alice.close();
  await waitForLine(bob, "* alice left");
  log("bob on B saw alice leave A");

  // Instance A is killed: bob sees carol leave within the presence expiry
  // (2 s, swept every 2/3 s); carol's page shows it and retries with
  // backoff, and is back once A is started again on the same address.
  serverA.removeAllListeners("exit");
  const exited = new Promise((resolve) => serverA.on("exit", resolve));
  serverA.kill("SIGKILL");
  await exited;
  const killed = Date.now();
  await carol.waitForSelector('#state[data-state="closed"]', { timeout: STEP_TIMEOUT });
  await waitForLine(bob, "* carol left");
  const after = Date.now() - killed;
  log(`bob on B saw carol leave ${after} ms after A was killed (presence TTL 2 s)`);
  if (after > 4000) throw new Error(`carol's leave took ${after} ms`);
  // While A is down: bob posts (carol's page will get it by resuming),
  // and carol "types" a post (the form submitted by script: the input is
  // disabled while disconnected), which her page keeps as pending.
  await bob.fill("#text", "while A was down");
  await bob.press("#text", "Enter");
  await waitForLine(bob, "me: while A was down");
  await carol.evaluate(() => {
    document.getElementById("text").value = "typed while away";
    document.getElementById("form").requestSubmit();
  });
  const { addr: a2 } = await startInstance(redisUrl, a);
  if (a2 !== a) throw new Error(`A came back on ${a2}, not ${a}`);
  await waitForLine(bob, "* carol joined");
  log("carol's page reconnected to A, started again; bob saw her join");
  await waitForLine(carol, "bob: while A was down");
  await waitForLine(carol, "me: typed while away");
  await waitForLine(bob, "carol: typed while away");
  await carol.waitForSelector('#state[data-pending="0"]', { timeout: STEP_TIMEOUT });
  log("carol's page resumed (bob's post made while A was down) and sent her pending post, acknowledged");

  // B stopped with SIGTERM (1001 to bob's page) and started again on its
  // address while carol posts: bob's page resumes and shows each post once.
  serverB.removeAllListeners("exit");
  const stoppedB = new Promise((resolve) => serverB.on("exit", (code) => resolve(code)));
  serverB.kill("SIGTERM");
  await bob.waitForSelector('#state[data-state="closed"][data-code="1001"]', { timeout: STEP_TIMEOUT });
  const code = await stoppedB;
  if (code !== 0) throw new Error(`B exited with ${code} after SIGTERM`);
  for (let i = 0; i < 5; i++) {
    await carol.fill("#text", `during the restart ${i}`);
    await carol.press("#text", "Enter");
  }
  await startInstance(redisUrl, b);
  await carol.fill("#text", "after the restart");
  await carol.press("#text", "Enter");
  await waitForLine(bob, "carol: after the restart");
  const lines = await bob.$$eval("#log li", (items) => items.map((li) => li.textContent));
  const posts = lines.filter((l) => l.startsWith("carol: "));
  const want = ["carol: typed while away", ...[0, 1, 2, 3, 4].map((i) => `carol: during the restart ${i}`),
    "carol: after the restart"];
  if (JSON.stringify(posts) !== JSON.stringify(want)) {
    throw new Error(`bob's page shows ${JSON.stringify(posts)}, expected ${JSON.stringify(want)}`);
  }
  log("bob's page came back after B's SIGTERM and restart, every post of carol's once, in order");

  await cleanup();
  log("PASSED");
}

main().catch(fail);
