// Drives the explorer in Debian's chromium against a running devnet.
// crates/lakh/tests/explorer.rs creates the situation and runs:
//
//   node explore.mjs <rpc-url> <facts-json> <screenshot.png>
//
// <facts-json> says what the page must show: the transfer (id and balance
// changes), the sold NFT (provenance, sale), the hostile NFT. Every check
// that fails throws with what was expected and what the page showed; the
// process exits 1 then.

import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [rpcUrl, factsJson, screenshotPath] = process.argv.slice(2);
if (!rpcUrl || !factsJson || !screenshotPath) {
  console.error("usage: node explore.mjs <rpc-url> <facts-json> <screenshot.png>");
  process.exit(2);
}
const facts = JSON.parse(factsJson);
const CHROMIUM = process.env.LAKH_CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT_MS = 15_000;

// The network is closed: these flags keep chromium from calling home.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function check(condition, what) {
  if (!condition) throw new Error(`explorer check failed: ${what}`);
  console.log(`ok: ${what.split("\n")[0]}`);
}

const noCommas = (s) => s.replace(/,/g, "").trim();

async function text(page, selector) {
  await page.locator(selector).first().waitFor({ timeout: TIMEOUT_MS });
  return (await page.locator(selector).first().textContent()) ?? "";
}

// Rows of a table as arrays of cell texts, plus each row's links' titles.
async function rows(page, selector) {
  await page.locator(`${selector} tbody tr`).first().waitFor({ timeout: TIMEOUT_MS });
  return page.locator(`${selector} tbody tr`).evaluateAll((trs) => trs.map((tr) => ({
    cells: [...tr.querySelectorAll("td")].map((td) => td.textContent),
    titles: [...tr.querySelectorAll("a[title]")].map((a) => a.title),
    hrefs: [...tr.querySelectorAll("a")].map((a) => a.getAttribute("href")),
  })));
}

async function liveHead(page) {
  const head = await text(page, "#live-head");
  return Number(head.replace("#", ""));
}

async function home(page) {
  await page.goto(`${rpcUrl}/`);
  check(new URL(page.url()).pathname === "/explorer", `GET / leads to /explorer (at ${page.url()})`);
  await page.waitForFunction(() => /#\d+/.test(document.getElementById("live-head")?.textContent ?? ""),
    null, { timeout: TIMEOUT_MS });
  await page.locator(".chart rect").first().waitFor({ timeout: TIMEOUT_MS });
  check((await page.locator(".chart rect").count()) > 1, "home draws the throughput chart");
  await page.locator(".id-home-txs tbody tr a").first().waitFor({ timeout: TIMEOUT_MS });
  check((await rows(page, ".id-home-txs")).length > 0, "home lists recent transactions");
}

async function searchTransfer(page) {
  const t = facts.transfer;
  await page.fill("#search-input", t.id);
  await page.press("#search-input", "Enter");
  await page.waitForFunction((id) => document.getElementById("tx-id")?.textContent === id, t.id, { timeout: TIMEOUT_MS });
  check(page.url().endsWith(`#/tx/${t.id}`), `searching the transfer id lands on its page (${page.url()})`);
  check((await text(page, "#tx-status")) === "success", "the transfer succeeded");
  const shown = await rows(page, ".balance-changes");
  for (const want of t.changes) {
    const row = shown.find((r) => r.titles[0] === want.account && noCommas(r.cells[2]) === want.change);
    check(row, `balance change ${want.change} for ${want.account}\npage shows: ${JSON.stringify(shown.map((r) => [r.titles[0], r.cells[2]]))}`);
  }
  check(shown.length === t.changes.length, `exactly ${t.changes.length} balance changes (page shows ${shown.length})`);
}

async function aliceHistory(page) {
  const t = facts.transfer;
  // Follow the sender's link from the transaction page.
  await page.locator(`.balance-changes a[title="${t.sender}"]`).first().click();
  await page.waitForFunction((a) => document.getElementById("account-address")?.textContent === a, t.sender, { timeout: TIMEOUT_MS });
  const history = await rows(page, ".history");
  const entry = history.find((r) => r.hrefs.includes(`#/tx/${t.id}`));
  check(entry, `alice's history lists the transfer\npage shows: ${JSON.stringify(history.map((r) => r.cells))}`);
  check(noCommas(entry.cells[5]).includes(t.sender_change), `the history row shows alice's change ${t.sender_change} (${entry.cells[5]})`);
  const balances = await rows(page, ".balances");
  check(balances.some((r) => noCommas(r.cells[1]) === facts.alice_eth), `alice's ETH balance reads ${facts.alice_eth}`);
}

// The admin seeded the demo: more transactions than one page holds.
async function historyPages(page) {
  await page.goto(`${rpcUrl}/explorer#/account/${facts.busy_account}`);
  const first = await rows(page, ".history");
  const newest = Number(first[0].cells[0]);
  check(first.length === 10 && newest >= 10, `a busy account's history shows a page of 10, newest ordinal ${newest}`);
  await page.locator(".pager a.older").click();
  await page.waitForFunction((want) => document.querySelector(".history tbody tr td")?.textContent === want,
    String(newest - 10), { timeout: TIMEOUT_MS });
  check(page.url().endsWith(`/${newest - 9}`), `"older" pages with the cursor (${page.url()})`);
}

async function nftProvenance(page) {
  const n = facts.nft;
  await page.goto(`${rpcUrl}/explorer#/nft/${n.token}`);
  await page.waitForFunction(() => document.getElementById("nft-attesters"), null, { timeout: TIMEOUT_MS });
  const attesters = await page.locator("#nft-attesters a").evaluateAll((as) => as.map((a) => a.title));
  check(attesters.includes(n.attester), `the NFT's provenance names its attester (${attesters})`);
  const events = (await rows(page, ".nft-history")).map((r) => r.cells[1]);
  check(JSON.stringify(events) === JSON.stringify(n.events), `the NFT's history reads ${n.events} (page: ${events})`);
  const sales = await rows(page, ".sales");
  check(sales.length === 1 && sales[0].titles[0] === n.seller && sales[0].titles[1] === n.buyer &&
    noCommas(sales[0].cells[3]) === n.price, `the sale shows seller, buyer and price ${n.price} (${JSON.stringify(sales)})`);
}

async function headAdvances(page) {
  await page.goto(`${rpcUrl}/explorer#/`);
  await page.waitForFunction(() => /#\d+/.test(document.getElementById("live-head")?.textContent ?? ""), null, { timeout: TIMEOUT_MS });
  await page.evaluate(() => { window.stillTheSamePage = true; });
  const before = await liveHead(page);
  const topBefore = (await rows(page, ".card table.grid"))[0].cells[0];
  await page.waitForFunction((h) => Number(document.getElementById("live-head").textContent.replace("#", "")) > h + 1,
    before, { timeout: TIMEOUT_MS });
  const after = await liveHead(page);
  check(await page.evaluate(() => window.stillTheSamePage === true), "the page was not reloaded");
  const topAfter = (await rows(page, ".card table.grid"))[0].cells[0];
  check(after > before && topAfter !== topBefore, `the live head advanced ${before} -> ${after} and recent blocks follow (${topBefore} -> ${topAfter})`);
}

async function hostileText(page, dialogs) {
  const x = facts.hostile;
  await page.goto(`${rpcUrl}/explorer#/nft/${x.token}`);
  await page.waitForFunction(() => document.getElementById("nft-collection-name"), null, { timeout: TIMEOUT_MS });
  check((await text(page, "#nft-collection-name")) === x.name, `the hostile name reads as text: ${x.name}`);
  const uris = await page.locator(".user-text").allTextContents();
  check(uris.includes(x.uri), `the hostile uri reads as text: ${x.uri}`);
  const injected = await page.evaluate(() => ({
    images: document.querySelectorAll("img").length,
    scripts: [...document.querySelectorAll("script")].map((s) => s.getAttribute("src")),
    bold: document.querySelectorAll("main b").length,
  }));
  check(injected.images === 0 && injected.bold === 0, `no element injected (${JSON.stringify(injected)})`);
  check(injected.scripts.length === 1 && injected.scripts[0] === "/explorer/explorer.js", "the only script is the explorer's");
  await page.goto(`${rpcUrl}/explorer#/collection/${x.collection}`);
  check((await text(page, "#collection-name")) === x.name, "the collection page shows the name as text");
  check(dialogs.length === 0, `no dialog opened (${dialogs})`);
}

async function screenshot(page) {
  await page.goto(`${rpcUrl}/explorer#/`);
  await page.locator(".id-home-txs tbody tr a").first().waitFor({ timeout: TIMEOUT_MS });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: screenshotPath, fullPage: false });
  console.log(`ok: screenshot written to ${screenshotPath}`);
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "lakh-explorer-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 },
  });
  const errors = [];
  const dialogs = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    await home(page);
    await searchTransfer(page);
    await aliceHistory(page);
    await historyPages(page);
    await nftProvenance(page);
    await headAdvances(page);
    await hostileText(page, dialogs);
    await screenshot(page);
    check(errors.length === 0, `no script errors on the page (${errors})`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => console.log("explorer: all checks passed"), (e) => {
  console.error(e.message);
  process.exit(1);
});
