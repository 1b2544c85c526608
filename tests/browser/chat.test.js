// A real browser against the chat_server example: headless Chromium opens
// the chat page twice, sends a message from one page and sees it in the
// other, then closes one and sees the leave notice in the other; then the
// server is killed and restarted on the same address and the page
// reconnects by itself (with ?since= its last post id: the restarted
// server has no history, and the page shows the gap); last, the server is
// stopped with SIGTERM: the page
// sees a Close with 1001, the server exits with status 0, and the page is
// back soon after a server listens on the same address again.
//
// Usage: node chat.test.js PATH/TO/chat_server [SCREENSHOT.png]
// (scripts/browser_test.sh builds the example and runs this.)
//
// The same test runs against axum_chat: SERVER_ARGS are passed after the
// address (e.g. "--tls"), SCHEME=https loads the page over TLS (the
// certificate is self-signed: Chromium ignores certificate errors), and
// EXPECT_SOCKET="HTTP/2.0 CONNECT" checks the server's `socket NAME
// VERSION METHOD` line for each page: the WebSocket really went over
// HTTP/2 as an extended CONNECT (RFC 8441), or over HTTP/1.1 as a GET.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { chromium } = require("playwright-core");

const [serverBin, screenshot] = process.argv.slice(2);
if (!serverBin) {
  console.error("usage: node chat.test.js PATH/TO/chat_server [SCREENSHOT.png]");
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 15000;
const SERVER_ARGS = (process.env.SERVER_ARGS || "").split(" ").filter(Boolean);
const SCHEME = process.env.SCHEME || "http";
// The page to open: "/" (chat.html) or "/wasm/" (chat_server --wasm DIR:
// the same page with its client in Rust, examples/wasm_chat.rs).
const PAGE_PATH = process.env.PAGE_PATH || "/";
// name -> "VERSION METHOD" of its latest socket, from the server's stdout.
const sockets = new Map();

let server = null;
let context = null;
let profile = null;

// Everything must be over within a minute, whatever hangs.
const watchdog = setTimeout(() => fail(new Error("timed out after 60 s")), 60000);

function log(...args) {
  console.log("browser test:", ...args);
}

async function cleanup() {
  clearTimeout(watchdog);
  if (context) await context.close().catch(() => {});
  if (server) server.kill("SIGKILL");
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
}

async function fail(error) {
  console.error("browser test FAILED:", error);
  await cleanup();
  process.exit(1);
}

// Starts chat_server (on a free port unless given an address) and
// resolves with its address.
function startServer(addr = "127.0.0.1:0") {
  return new Promise((resolve, reject) => {
    server = spawn(serverBin, [addr, ...SERVER_ARGS], { stdio: ["ignore", "pipe", "inherit"] });
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`chat_server exited (${code})`)));
    const lines = readline.createInterface({ input: server.stdout });
    lines.on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m) resolve(m[1]);
      const socket = /^socket (\S+) (.+)$/.exec(line);
      if (socket) sockets.set(socket[1], socket[2]);
    });
  });
}

// Opens the chat page as `name` and waits until its WebSocket is open.
async function openChat(addr, name) {
  const page = await context.newPage();
  page.on("pageerror", (e) => fail(new Error(`${name}: page error: ${e.message}`)));
  page.on("console", (m) => {
    if (m.type() === "error") log(`${name} console error: ${m.text()}`);
  });
  await page.goto(`${SCHEME}://${addr}${PAGE_PATH}?name=${name}`);
  await page.waitForSelector('#state[data-state="open"]', { timeout: STEP_TIMEOUT });
  await waitForLine(page, `* you are ${name}`);
  const extensions = await page.$eval("#state", (el) => el.dataset.extensions || "");
  const expected = process.env.EXPECT_EXTENSION;
  if (expected && !extensions.includes(expected)) {
    throw new Error(`${name}: extensions "${extensions}", expected ${expected}`);
  }
  const expectSocket = process.env.EXPECT_SOCKET;
  if (expectSocket) {
    // The server prints the line before it answers the upgrade.
    for (let i = 0; i < 50 && sockets.get(name) !== expectSocket; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (sockets.get(name) !== expectSocket) {
      throw new Error(`${name}: server saw the socket as "${sockets.get(name)}", expected ${expectSocket}`);
    }
  }
  log(`${name} connected (extensions: ${extensions || "none"}, socket: ${sockets.get(name) || "?"})`);
  return page;
}

// The server's count of compressed broadcast frames (axum_chat's /stats).
async function compressedEncodes(page) {
  const stats = await page.evaluate(() => fetch("/stats").then((r) => r.text()));
  const m = /^compressed_encodes (\d+)$/m.exec(stats);
  if (!m) throw new Error(`no compressed_encodes in /stats: ${stats}`);
  return Number(m[1]);
}

// Waits until the page's message list shows this line `count` times.
function waitForLine(page, line, count = 1) {
  return page.waitForFunction(
    ([want, n]) =>
      [...document.querySelectorAll("#log li")].filter((li) => li.textContent === want).length >= n,
    [line, count],
    { timeout: STEP_TIMEOUT },
  );
}

async function main() {
  const addr = await startServer();
  log(`chat_server listening on ${addr}`);

  profile = fs.mkdtempSync(path.join(os.tmpdir(), "wsproto-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      // axum_chat --tls makes a self-signed certificate.
      "--ignore-certificate-errors",
    ],
    ignoreHTTPSErrors: true,
  });

  const alice = await openChat(addr, "alice");
  const bob = await openChat(addr, "bob");
  await waitForLine(alice, "* bob joined");
  log("alice saw bob join");

  await alice.fill("#text", "hello from alice");
  await alice.press("#text", "Enter");
  await waitForLine(alice, "me: hello from alice");
  await waitForLine(bob, "alice: hello from alice");
  log("bob received alice's message");

  await bob.fill("#text", "hi alice");
  await bob.click("#send");
  await waitForLine(alice, "bob: hi alice");
  log("alice received bob's message");

  // A long message, over the server's 1 KiB threshold: with
  // permessage-deflate Chromium sends it compressed and the room sends it
  // compressed to bob. EXPECT_COMPRESSED=1 (axum_chat) also checks the
  // server's /stats: the broadcast was compressed, once.
  const long = JSON.stringify(
    Array.from({ length: 40 }, (_, i) => ({ id: i, user: "alice", text: `line ${i} of a long post` })),
  );
  const before = process.env.EXPECT_COMPRESSED ? await compressedEncodes(alice) : 0;
  await alice.fill("#text", long);
  await alice.press("#text", "Enter");
  await waitForLine(bob, `alice: ${long}`);
  log(`bob received alice's ${long.length}-byte message`);
  if (process.env.EXPECT_COMPRESSED) {
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await compressedEncodes(alice);
    }
    if (after !== before + 1) {
      throw new Error(`compressed_encodes went from ${before} to ${after}, expected one more`);
    }
    log("the server compressed the broadcast once");
  }

  if (screenshot) {
    await alice.screenshot({ path: screenshot });
    log(`screenshot: ${screenshot}`);
  }

  await bob.close();
  await waitForLine(alice, "* bob left");
  log("alice saw bob leave");

  const state = await alice.textContent("#state");
  if (!state.startsWith("connected")) throw new Error(`alice's state is ${JSON.stringify(state)}`);

  // The server goes away: the page shows it and reconnects with backoff
  // once a server listens on the same address again.
  const stopped = server;
  server = null;
  stopped.removeAllListeners("exit");
  const exited = new Promise((resolve) => stopped.on("exit", resolve));
  stopped.kill("SIGKILL");
  await exited;
  await alice.waitForSelector('#state[data-state="closed"]', { timeout: STEP_TIMEOUT });
  log("alice saw the server go away");
  await startServer(addr);
  await alice.waitForSelector('#state[data-state="open"]', { timeout: STEP_TIMEOUT });
  await waitForLine(alice, "* you are alice", 2);
  log("alice reconnected");
  // She came back with ?since= her last post id; the server, restarted,
  // has no history: the page says some messages were missed.
  await waitForLine(alice, "* some messages were missed: they are no longer kept");
  log("alice's page shows the gap");

  // SIGTERM: the server closes every socket with 1001 (Going Away) and
  // exits with status 0; the page, told the server is going away, tries
  // again soon (under 250 ms, then the backoff while nothing listens).
  const terminated = server;
  server = null;
  terminated.removeAllListeners("exit");
  const exit = new Promise((resolve) => terminated.on("exit", (code, signal) => resolve({ code, signal })));
  // Every close code the page shows, recorded as it is set: the page may
  // be trying again (and show 1006) before a look at #state would see 1001.
  await alice.evaluate(() => {
    window.closeCodes = [];
    const state = document.getElementById("state");
    new MutationObserver(() => window.closeCodes.push(state.dataset.code))
      .observe(state, { attributes: true, attributeFilter: ["data-code"] });
  });
  terminated.kill("SIGTERM");
  await alice.waitForFunction(() => window.closeCodes.includes("1001"), null, { timeout: STEP_TIMEOUT });
  const { code, signal } = await exit;
  if (code !== 0) throw new Error(`the server exited with ${code} (signal ${signal}) after SIGTERM`);
  log("alice saw the server go away with 1001; it exited with status 0");
  await startServer(addr);
  const restarted = Date.now();
  await alice.waitForSelector('#state[data-state="open"]', { timeout: STEP_TIMEOUT });
  await waitForLine(alice, "* you are alice", 3);
  log(`alice reconnected ${Date.now() - restarted} ms after the restart`);

  await cleanup();
  log("PASSED");
}

main().catch(fail);
