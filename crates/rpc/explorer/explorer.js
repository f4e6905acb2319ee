// The lakh explorer: one page, hash-routed (#/block/12, #/tx/<id>, ...),
// reading the chain only through this node's public JSON-RPC (POST to the
// same origin) and the lakh_subscribeFinalized WebSocket.
//
// Two rules hold everywhere below:
// - amounts are exact: base-unit strings become BigInt and are formatted
//   with the asset's decimals; a Number never holds an amount;
// - text that came from the chain goes into the page as text (textContent,
//   text nodes via append), never as markup.

// ---------------------------------------------------------------- JSON & RPC

// Ids such as NFT tokens are u64 JSON numbers, beyond what a double holds
// exactly: integers that are not safe become BigInt, read from their source.
function parseJson(text) {
  return JSON.parse(text, (_key, value, context) => {
    if (typeof value === "number" && !Number.isSafeInteger(value) &&
        context && /^-?\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

// BigInt ids go back out as bare JSON numbers, digit for digit.
function toJson(value) {
  return JSON.stringify(value, (_key, v) =>
    typeof v === "bigint" ? JSON.rawJSON(v.toString()) : v);
}

class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

let nextRequestId = 1;

async function post(body) {
  const response = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: toJson(body),
  });
  if (!response.ok) throw new Error(`RPC answered HTTP ${response.status}`);
  return parseJson(await response.text());
}

function request(method, params) {
  return { jsonrpc: "2.0", id: nextRequestId++, method, params };
}

async function rpc(method, params = []) {
  const answer = await post(request(method, params));
  if (answer.error) throw new RpcError(answer.error);
  return answer.result;
}

// Many calls in one round trip; each answer is {result} or {error}.
async function rpcBatch(calls) {
  if (calls.length === 0) return [];
  const requests = calls.map(([method, params]) => request(method, params));
  const answers = await post(requests);
  const byId = new Map(answers.map((a) => [a.id, a]));
  return requests.map((r) => byId.get(r.id) ?? { error: { message: "no answer" } });
}

const query = (module, method, params = {}) =>
  rpc("lakh_query", [module, method, params]);

// A module query that may have no answer: null for `not_found`.
async function queryOrNull(module, method, params) {
  try {
    return await query(module, method, params);
  } catch (e) {
    if (e instanceof RpcError && e.data?.code === "not_found") return null;
    throw e;
  }
}

// ---------------------------------------------------------------- amounts

const pow10 = (n) => 10n ** BigInt(n);

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// Base units as a decimal with `decimals` places, trailing zeros dropped.
function formatUnits(base, decimals, signed = false) {
  let value = BigInt(base);
  const negative = value < 0n;
  if (negative) value = -value;
  const digits = value.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  const sign = negative ? "-" : signed && value > 0n ? "+" : "";
  return sign + groupThousands(whole) + (fraction ? "." + fraction : "");
}

// A fixed-point value with `scaleDecimals` places shown with at most
// `shown` places (truncated: display only, never fed back).
function formatFixed(base, scaleDecimals, shown) {
  const value = BigInt(base);
  const cut = pow10(Math.max(0, scaleDecimals - shown));
  return formatUnits(value / cut, Math.min(scaleDecimals, shown));
}

const WAD_DECIMALS = 18;
const wadPercent = (wad, shown = 2) => formatFixed(BigInt(wad) * 100n, WAD_DECIMALS, shown) + "%";
const bpsPercent = (bps) => formatFixed(BigInt(bps), 2, 2) + "%";
// Ids asked per batch when listing assets, markets and pools.
const PROBE_PAGE = 32;
// Blocks a year at one block a second (the devnet's pace when idle).
const BLOCKS_PER_YEAR = 31_536_000n;

// ---------------------------------------------------------------- assets

const assetCache = new Map(); // String(id or symbol) -> Promise<asset|null>

function getAsset(ref) {
  const key = String(ref);
  if (!assetCache.has(key)) {
    const param = typeof ref === "string" && !/^\d+$/.test(ref) ? ref : BigInt(ref);
    const pending = rpc("lakh_getAsset", [param]).catch(() => null);
    assetCache.set(key, pending);
  }
  return assetCache.get(key);
}

async function getAssets(ids) {
  const unique = [...new Set(ids.map(String))];
  const missing = unique.filter((id) => !assetCache.has(id));
  if (missing.length > 0) {
    const answers = rpcBatch(missing.map((id) => ["lakh_getAsset", [BigInt(id)]]));
    missing.forEach((id, i) =>
      assetCache.set(id, answers.then((a) => a[i].result ?? null).catch(() => null)));
  }
  const found = await Promise.all(unique.map((id) => assetCache.get(id)));
  return new Map(unique.map((id, i) => [id, found[i]]));
}

// The chain's bank assets have ids 0, 1, 2, ... (module share assets have
// derived ids and are found through their modules): asked a page at a time
// until one is missing, up to `most`.
async function listBankAssets(most = 1024) {
  const out = [];
  for (let first = 0; first < most; first += PROBE_PAGE) {
    const ids = Array.from({ length: PROBE_PAGE }, (_, i) => first + i);
    const assets = await getAssets(ids);
    for (const id of ids) {
      const a = assets.get(String(id));
      if (!a) return out;
      out.push(a);
    }
  }
  return out;
}

// "1.5 ETH" from base units and an asset (or its id).
function amountNode(base, asset, signed = false) {
  const span = h("span", { class: "amount", title: `${BigInt(base)} base units` });
  if (asset) {
    span.append(formatUnits(base, asset.decimals, signed), " ", assetLink(asset));
  } else {
    span.append(formatUnits(base, 0, signed), " base units");
  }
  return span;
}

// ---------------------------------------------------------------- DOM

const SVG_NS = "http://www.w3.org/2000/svg";

// An element with attributes and children; strings become text nodes.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

const short = (hex) => (hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex);
const link = (href, text, cls) => h("a", { href, class: cls }, text);
const accountLink = (addr) => withTitle(link(`#/account/${addr}`, short(addr), "mono"), addr);
const txLink = (id) => withTitle(link(`#/tx/${id}`, short(id), "mono"), id);
const blockLink = (height) => link(`#/block/${height}`, `#${height}`);
const tokenLink = (id) => link(`#/nft/${id}`, `token ${id}`, "mono");
const collectionLink = (id) => link(`#/collection/${id}`, `collection ${id}`, "mono");

function withTitle(el, title) {
  el.title = title;
  return el;
}

function assetLink(asset) {
  return link(`#/asset/${asset.id}`, asset.symbol, "symbol");
}

function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

// A two-column table of label/value pairs.
function facts(rows) {
  return h("table", { class: "facts" },
    h("tbody", {}, rows.filter(Boolean).map(([label, value]) =>
      h("tr", {}, h("th", {}, label), h("td", {}, value)))));
}

function table(headers, rows, cls = "grid") {
  return h("table", { class: cls },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows.map((cells) =>
      h("tr", {}, cells.map((c) => h("td", {}, c))))
      : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none"))));
}

function message(text, cls = "muted") {
  return h("p", { class: cls }, text);
}

const errorText = (e) => (e instanceof Error ? e.message : String(e));

// A section whose body loads on its own: a failure shows in it, not in
// the whole page.
function lazySection(title, load) {
  const body = h("div", {}, message("Loading…"));
  const card = section(title, body);
  load().then(
    (content) => body.replaceChildren(...[content].flat().filter(Boolean)),
    (e) => body.replaceChildren(message(`Cannot load: ${errorText(e)}`, "error")));
  return card;
}

// ---------------------------------------------------------------- values

const HEX64 = /^[0-9a-f]{64}$/;
// 64-hex fields that are hashes or keys, not accounts.
const NOT_ACCOUNT = /hash|root|commitment|model_id|consensus_key|pool_id|proof|signature/;
const AMOUNT_KEY = /amount|price|fee|royalty|paid|repaid|seized|shares|premium|payout|reward|stake|bond|value|debt|cash|reserve|balance|supply|bid|funded|quantity/;

// One field of an event or answer, linked where it names something.
function valueNode(key, value, context, assets) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    return h("span", {}, value.map((v, i) => [i ? ", " : "", valueNode(key, v, context, assets)]));
  }
  if (typeof value === "object") return objectNode(value, assets);
  const text = String(value);
  if (typeof value === "string" && HEX64.test(text) && !NOT_ACCOUNT.test(key)) return accountLink(text);
  if (key === "token" || key === "child") return tokenLink(text);
  if (key === "collection") return collectionLink(text);
  if ((key === "asset" || key.endsWith("_asset")) && assets.get(text)) return assetLink(assets.get(text));
  const asset = assets.get(String(context.asset));
  if (typeof value === "string" && /^\d+$/.test(text) && AMOUNT_KEY.test(key) && asset &&
      !key.includes("shares")) {
    return amountNode(text, asset);
  }
  return h("span", { class: HEX64.test(text) ? "mono" : "" }, HEX64.test(text) ? short(text) : text);
}

function objectNode(object, assets) {
  const list = h("span", { class: "fields" });
  for (const [key, value] of Object.entries(object)) {
    if (key === "type" || key === "kind" || key === "event") continue;
    list.append(h("span", { class: "field" }, h("span", { class: "key" }, key), " ",
      valueNode(key, value, object, assets)));
  }
  return list;
}

function eventName(event) {
  return [event.type, event.kind ?? event.event ?? event.op].filter(Boolean).join(" · ");
}

// "transfer ×3, nft · sold": a receipt's events in brief, in first-seen order.
function eventsSummary(events) {
  const counts = new Map();
  for (const e of events) counts.set(eventName(e), (counts.get(eventName(e)) ?? 0) + 1);
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(", ") || "—";
}

// Asset ids an event or answer names, to fetch their decimals at once.
function assetIdsIn(value, out = new Set()) {
  if (Array.isArray(value)) value.forEach((v) => assetIdsIn(v, out));
  else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if ((key === "asset" || key.endsWith("_asset")) && (typeof v === "number" || typeof v === "bigint")) {
        out.add(String(v));
      } else assetIdsIn(v, out);
    }
  }
  return out;
}

// ---------------------------------------------------------------- balances

// What a finalized transaction did to balances, per account and asset:
// the sender paid the fee in the native asset, and every balance the action
// moved is a bank transfer, mint or burn event in the receipt (modules
// record theirs the same way). Returns [{account, asset, delta, fee}].
function balanceChanges(receipt) {
  const deltas = new Map();
  const add = (account, asset, amount, fee = 0n) => {
    const key = `${account}/${asset}`;
    const entry = deltas.get(key) ?? { account, asset: String(asset), delta: 0n, fee: 0n };
    entry.delta += amount;
    entry.fee += fee;
    deltas.set(key, entry);
  };
  const fee = BigInt(receipt.fee_paid);
  if (fee > 0n) add(receipt.sender, 0, -fee, fee);
  for (const event of receipt.events) {
    const amount = event.amount === undefined ? 0n : BigInt(event.amount);
    if (event.type === "transfer") {
      add(event.from, event.asset, -amount);
      add(event.to, event.asset, amount);
    } else if (event.type === "minted") add(event.to, event.asset, amount);
    else if (event.type === "burned") add(event.from, event.asset, -amount);
  }
  return [...deltas.values()]
    .filter((d) => d.delta !== 0n || d.fee !== 0n)
    .sort((a, b) => a.account.localeCompare(b.account) || Number(BigInt(a.asset) - BigInt(b.asset)));
}

function changeNode(change, assets) {
  const cls = change.delta < 0n ? "neg" : "pos";
  return h("span", { class: cls }, amountNode(change.delta, assets.get(change.asset), true));
}

function statusNode(status) {
  if (status.status === "success") return h("span", { class: "ok" }, "success");
  const reason = status.error ?? status;
  return h("span", { class: "error" }, "failed: ", reason.reason ?? "", " ",
    objectNode(Object.fromEntries(Object.entries(reason).filter(([k]) => k !== "reason")), new Map()));
}

// ---------------------------------------------------------------- live feed

const live = {
  blocks: [], // newest last, at most LIVE_BLOCKS
  head: null,
  listeners: new Set(),
  socket: null,
  retryMs: 500,
};
const LIVE_BLOCKS = 60;

function remember(block) {
  const last = live.blocks.at(-1);
  if (last && block.header.height <= last.header.height) return;
  live.blocks.push(block);
  if (live.blocks.length > LIVE_BLOCKS) live.blocks.shift();
  live.head = block.header;
  document.getElementById("live-head").textContent = `#${block.header.height}`;
  for (const listener of live.listeners) listener(block);
}

// The blocks before the subscription started (or while it was down).
async function backfill() {
  const head = await rpc("lakh_head");
  const last = live.blocks.at(-1)?.header.height ?? -1;
  const from = Math.max(last + 1, head.height - (LIVE_BLOCKS - 1), 0);
  const heights = [];
  for (let hgt = from; hgt <= head.height; hgt++) heights.push(hgt);
  const answers = await rpcBatch(heights.map((hgt) => ["lakh_getBlockByHeight", [hgt]]));
  for (const a of answers) if (a.result) remember(a.result);
}

function connectLive() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/`);
  live.socket = socket;
  // Blocks announced while the backfill runs wait for it, so none is
  // skipped as older than one already shown.
  let waiting = [];
  socket.onopen = () => {
    live.retryMs = 500;
    document.getElementById("live").classList.add("on");
    socket.send(toJson(request("lakh_subscribeFinalized", [])));
    backfill().catch(() => {}).finally(() => {
      waiting.forEach(remember);
      waiting = null;
    });
  };
  socket.onmessage = (msg) => {
    const data = parseJson(msg.data);
    if (data.method !== "lakh_finalized" || !data.params?.result) return;
    if (waiting) waiting.push(data.params.result);
    else remember(data.params.result);
  };
  socket.onclose = () => {
    document.getElementById("live").classList.remove("on");
    // A dropped subscriber resubscribes and backfills by height.
    setTimeout(connectLive, live.retryMs);
    live.retryMs = Math.min(live.retryMs * 2, 10_000);
  };
}

// Transactions per second of each block: its transactions over the time
// since its parent.
function throughput(all) {
  const blocks = timed(all);
  const points = [];
  for (let i = 1; i < blocks.length; i++) {
    const ms = blocks[i].header.timestamp_ms - blocks[i - 1].header.timestamp_ms;
    if (blocks[i].header.height !== blocks[i - 1].header.height + 1) continue;
    points.push({ height: blocks[i].header.height, tps: ms > 0 ? (blocks[i].header.tx_count * 1000) / ms : 0 });
  }
  return points;
}

// Genesis carries no time of its own (timestamp 0): spans start after it.
const timed = (blocks) => blocks.filter((b) => b.header.timestamp_ms > 0);

// Mean rate over the span of the remembered blocks (a rate, not an amount).
function meanThroughput(all) {
  const blocks = timed(all);
  if (blocks.length < 2) return 0;
  const ms = blocks.at(-1).header.timestamp_ms - blocks[0].header.timestamp_ms;
  const txs = blocks.slice(1).reduce((n, b) => n + b.header.tx_count, 0);
  return ms > 0 ? (txs * 1000) / ms : 0;
}

function throughputChart(blocks) {
  const points = throughput(blocks);
  const width = 600, height = 120, pad = 4;
  const max = Math.max(1, ...points.map((p) => p.tps));
  const bar = points.length ? (width - pad * 2) / points.length : 0;
  // Stretched to the box: bars fill its width whatever the window's shape.
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "chart",
    role: "img", "aria-label": "transactions per second per block" });
  points.forEach((p, i) => {
    // An idle block still gets a 1-unit bar: the baseline shows it was seen.
    const hgt = Math.max(1, ((height - pad * 2) * p.tps) / max);
    const rect = svg("rect", { x: pad + i * bar, y: height - pad - hgt, width: Math.max(1, bar - 1), height: hgt });
    rect.append(svg("title", {}, `#${p.height}: ${p.tps.toFixed(2)} tx/s`));
    chart.append(rect);
  });
  const caption = h("div", { class: "muted axis" },
    `transactions per second of each of the last ${points.length} blocks (highest ${max.toFixed(1)} tx/s)`);
  return [caption, chart];
}

// ---------------------------------------------------------------- views

const view = () => document.getElementById("view");
let renderSeq = 0;
let leaveView = () => {};

const routes = [
  [/^\/?$/, viewHome],
  [/^\/block\/([^/]+)$/, viewBlock],
  [/^\/tx\/([0-9a-fA-Fx]+)$/, viewTx],
  [/^\/account\/([0-9a-fA-Fx]+)(?:\/(\d+))?$/, viewAccount],
  [/^\/asset\/([^/]+)$/, viewAsset],
  [/^\/dex$/, viewDex],
  [/^\/book(?:\/(\d+))?$/, viewBook],
  [/^\/lend$/, viewLend],
  [/^\/validators$/, viewValidators],
  [/^\/nft\/(\d+)(?:\/(\d+))?$/, viewNft],
  [/^\/collection\/(\d+)$/, viewCollection],
  [/^\/search\/(.+)$/, viewSearch],
];

async function render() {
  const seq = ++renderSeq;
  leaveView();
  leaveView = () => {};
  const path = decodeURIComponent(location.hash.replace(/^#/, ""));
  const found = routes.map(([re, fn]) => [path.match(re), fn]).find(([m]) => m);
  view().replaceChildren(message("Loading…"));
  try {
    const content = found ? await found[1](...found[0].slice(1)) : message("No such page.", "error");
    if (seq === renderSeq) view().replaceChildren(...[content].flat().filter(Boolean));
  } catch (e) {
    if (seq === renderSeq) view().replaceChildren(message(`Cannot show this: ${errorText(e)}`, "error"));
  }
}

// -- home

function viewHome() {
  const stats = h("div", { class: "stats" });
  const chart = h("div", { class: "chart-box" });
  const blocksBody = h("div");
  const txsBody = h("div");
  const receipts = new Map(); // tx id -> receipt (or "pending")

  const redraw = () => {
    const blocks = live.blocks;
    const head = live.head;
    stats.replaceChildren(
      stat("head", head ? blockLink(head.height) : "…", "id-home-head"),
      stat("block time", `${meanBlockSeconds(blocks).toFixed(2)} s`),
      stat("base fee", head ? `${formatUnits(head.base_fee, 0)} / unit` : "…"),
      stat("throughput", `${meanThroughput(blocks).toFixed(2)} tx/s`, "id-home-tps"),
      stat("blocks seen live", String(blocks.length)));
    chart.replaceChildren(...throughputChart(blocks));
    const recent = blocks.slice(-12).reverse();
    blocksBody.replaceChildren(table(["height", "hash", "txs", "proposer", "time"],
      recent.map((b) => [blockLink(b.header.height), withTitle(link(`#/block/${b.header.hash}`, short(b.header.hash), "mono"), b.header.hash),
        String(b.header.tx_count), accountLink(b.header.proposer), new Date(b.header.timestamp_ms).toLocaleTimeString()])));
    const txs = blocks.slice().reverse()
      .flatMap((b) => b.tx_ids.map((id) => ({ id, height: b.header.height }))).slice(0, 15);
    fetchReceipts(txs.map((t) => t.id));
    txsBody.replaceChildren(table(["transaction", "block", "sender", "what", "status"],
      txs.map((t) => {
        const r = receipts.get(t.id);
        return [txLink(t.id), blockLink(t.height), r?.sender ? accountLink(r.sender) : "…",
          r?.events ? eventsSummary(r.events) : "…", r?.status ? statusNode(r.status) : "…"];
      }), "grid id-home-txs"));
  };

  const fetchReceipts = (ids) => {
    // Only what is on screen is kept, so a page left open does not grow.
    if (receipts.size > 4 * ids.length + 64) {
      for (const id of receipts.keys()) if (!ids.includes(id)) receipts.delete(id);
    }
    const missing = ids.filter((id) => !receipts.has(id));
    if (missing.length === 0) return;
    missing.forEach((id) => receipts.set(id, "pending"));
    rpcBatch(missing.map((id) => ["lakh_getTransaction", [id]])).then((answers) => {
      answers.forEach((a, i) => receipts.set(missing[i], a.result?.receipt ?? {}));
      redraw();
    }, () => {});
  };

  // The certificate of the newest block, asked again as blocks arrive.
  const finality = h("div", {}, message("Loading…"));
  let finalityAsked = -1;
  const refreshFinality = () => {
    const height = live.head?.height;
    if (height === undefined || height === finalityAsked) return;
    finalityAsked = height;
    finalityOf(height).then((content) => {
      if (finalityAsked === height) finality.replaceChildren(content);
    }, (e) => finality.replaceChildren(message(`Cannot load: ${errorText(e)}`, "error")));
  };
  const onBlock = () => { redraw(); refreshFinality(); };
  live.listeners.add(onBlock);
  leaveView = () => live.listeners.delete(onBlock);
  onBlock();
  return [
    section("Chain", stats, chart),
    h("div", { class: "two" }, section("Recent blocks", blocksBody), section("Recent transactions", txsBody)),
    section("Finality of the head", finality),
  ];
}

// Mean seconds between the remembered blocks (a duration, not an amount).
function meanBlockSeconds(all) {
  const blocks = timed(all);
  if (blocks.length < 2) return 0;
  const span = blocks.at(-1).header.timestamp_ms - blocks[0].header.timestamp_ms;
  const count = blocks.at(-1).header.height - blocks[0].header.height;
  return count > 0 ? span / count / 1000 : 0;
}

function stat(label, value, cls) {
  return h("div", { class: `stat ${cls ?? ""}` }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

async function finalityOf(height) {
  const [fin, committee] = await Promise.all([
    rpc("lakh_getFinality", [height]).catch(() => null),
    queryOrNull("stake", "committee", {}),
  ]);
  const header = live.blocks.find((b) => b.header.height === height)?.header;
  return facts([
    ["finalized head", blockLink(height)],
    header ? ["state root", h("span", { class: "mono" }, header.state_root)] : null,
    fin ? ["certificate", `epoch ${fin.epoch}, view ${fin.view}, ${fin.signers.length} of ${committee?.members.length ?? "?"} committee members signed`]
      : ["certificate", "finalized through a descendant (no certificate names this height)"],
  ]);
}

// -- search

async function resolveSearch(input) {
  const q = input.trim();
  if (q === "") return null;
  if (/^\d+$/.test(q)) {
    const block = await rpc("lakh_getBlockByHeight", [Number(q) <= Number.MAX_SAFE_INTEGER ? Number(q) : BigInt(q)]).catch(() => null);
    if (block) return `#/block/${q}`;
    if (await queryOrNull("nft", "token", { token: BigInt(q) }).catch(() => null)) return `#/nft/${q}`;
    if (await queryOrNull("nft", "collection", { collection: BigInt(q) }).catch(() => null)) return `#/collection/${q}`;
    return null;
  }
  const hex = q.toLowerCase().replace(/^0x/, "");
  if (HEX64.test(hex)) {
    const tx = await rpc("lakh_getTransaction", [hex]);
    if (tx.status !== "unknown") return `#/tx/${hex}`;
    if (await rpc("lakh_getBlockByHash", [hex])) return `#/block/${hex}`;
    return `#/account/${hex}`;
  }
  const symbol = q.toUpperCase();
  if (/^[A-Z0-9]{1,16}$/.test(symbol) && (await getAsset(symbol))) return `#/asset/${symbol}`;
  return null;
}

async function viewSearch(q) {
  const target = await resolveSearch(q);
  if (target) {
    location.replace(target);
    return message("Found…");
  }
  return section("Search", message(`Nothing matches “${q}”: try a height, a block hash, a transaction id, an address or an asset symbol.`, "error"));
}

// -- block

async function viewBlock(id) {
  const byHash = HEX64.test(id.toLowerCase().replace(/^0x/, ""));
  const block = byHash
    ? await rpc("lakh_getBlockByHash", [id.toLowerCase().replace(/^0x/, "")])
    : await rpc("lakh_getBlockByHeight", [Number(id)]);
  if (!block) return section(`Block ${id}`, message("No finalized block here (yet).", "error"));
  const hd = block.header;
  const shown = block.tx_ids.slice(0, 200);
  const answers = await rpcBatch(shown.map((t) => ["lakh_getTransaction", [t]]));
  const assets = await getAssets([0]);
  const rows = shown.map((t, i) => {
    const r = answers[i].result?.receipt;
    return [String(i), txLink(t), r ? accountLink(r.sender) : "…", r ? eventsSummary(r.events) : "…",
      r ? amountNode(r.fee_paid, assets.get("0")) : "…", r ? statusNode(r.status) : "…"];
  });
  return [
    section(`Block #${hd.height}`, facts([
      ["hash", h("span", { class: "mono" }, hd.hash)],
      ["parent", hd.height > 0 ? h("span", {}, blockLink(hd.height - 1), " ", h("span", { class: "mono muted" }, short(hd.parent))) : "—"],
      ["next", link(`#/block/${hd.height + 1}`, `#${hd.height + 1}`)],
      ["time", new Date(hd.timestamp_ms).toISOString()],
      ["proposer", accountLink(hd.proposer)],
      ["view", String(hd.view)],
      ["state root", h("span", { class: "mono" }, hd.state_root)],
      ["base fee", `${formatUnits(hd.base_fee, 0)} base units per fee unit`],
      ["fee units used", String(hd.used_units)],
      ["transactions", String(hd.tx_count)],
      hd.next_committee ? ["next committee", `${hd.next_committee.members.length} members (epoch boundary)`] : null,
      hd.finalizations && hd.finalizations.length ? ["carries finalizations", h("span", {},
        ...hd.finalizations.flatMap((f, i) => [i ? ", " : "",
          `round ${f.epoch}/${f.view} (${f.signers.length} signers, fee pot shared)`])),
      ] : null,
      ...(block.block_events || []).map((e) => ["after the last transaction",
        h("span", { class: "mono" }, `${e.type} ${e.kind}: ${JSON.stringify(e)}`)]),
      hd.evidence && hd.evidence.length ? ["carries evidence", h("span", {},
        ...hd.evidence.flatMap((e, i) => [i ? ", " : "",
          `${e.fault.replace(/_/g, " ")} by committee member ${e.signer} in round ${e.epoch}/${e.view}`])),
      ] : null,
    ])),
    lazySection("Finality", async () => {
      const fin = await rpc("lakh_getFinality", [hd.height]);
      return fin ? facts([["epoch", String(fin.epoch)], ["view", String(fin.view)], ["signers", fin.signers.join(", ")]])
        : message("Finalized through a descendant: no certificate names this height.");
    }),
    section(`Transactions (${hd.tx_count}${hd.tx_count > shown.length ? `, first ${shown.length} shown` : ""})`,
      table(["#", "id", "sender", "what", "fee", "status"], rows)),
  ];
}

// -- transaction

async function viewTx(id) {
  const tx = await rpc("lakh_getTransaction", [id.toLowerCase().replace(/^0x/, "")]);
  if (tx.status !== "finalized") {
    return section("Transaction", facts([["id", h("span", { class: "mono" }, id)], ["status", tx.status]]),
      message(tx.status === "pending" ? "Waiting in the mempool; this page shows it once a block is finalized." : "This node knows no such transaction."));
  }
  const r = tx.receipt;
  const changes = balanceChanges(r);
  const ids = new Set([0, ...changes.map((c) => c.asset), ...assetIdsIn(r.events)].map(String));
  const assets = await getAssets([...ids]);
  const statusText = r.status.status === "success" ? "success" : "failed";
  return [
    section("Transaction", facts([
      ["id", h("span", { class: "mono", id: "tx-id" }, r.tx_id)],
      ["status", h("span", { id: "tx-status" }, statusNode(r.status))],
      ["block", h("span", {}, blockLink(r.height), ` (position ${r.index}) `, h("span", { class: "mono muted" }, short(tx.block_hash)))],
      ["sender", accountLink(r.sender)],
      ["nonce", String(r.nonce)],
      ["fee", amountNode(r.fee_paid, assets.get("0"))],
    ]), h("span", { class: "sr", "data-status": statusText })),
    section("Balance changes",
      table(["account", "asset", "change", "of which fee"],
        changes.map((c) => [accountLink(c.account), assets.get(c.asset) ? assetLink(assets.get(c.asset)) : `asset ${c.asset}`,
          changeNode(c, assets), c.fee ? amountNode(-c.fee, assets.get("0"), true) : ""]), "grid balance-changes"),
      message("From the receipt: the sender's fee, then every transfer, mint and burn its events record. The block's fees go to its proposer (and its delegators) at the end of the block.")),
    section(`Events (${r.events.length})`,
      table(["#", "event", "details"], r.events.map((e, i) => [String(i), eventName(e), objectNode(e, assets)]))),
  ];
}

// -- account

const HISTORY_PAGE = 10;
// How far back the account page looks for farms and NFTs (the RPC's most).
const RECENT_TXS = 100;

async function viewAccount(addr, cursor) {
  const address = addr.toLowerCase().replace(/^0x/, "");
  const account = await rpc("lakh_getAccount", [address]);
  const assets = await getAssets(account.balances.map((b) => b.asset));
  // Its last transactions, where farms and NFTs it touched are found.
  const recent = rpc("lakh_getAccountTransactions", [address, null, RECENT_TXS]);
  recent.catch(() => {});
  return [
    section("Account", facts([
      ["address", h("span", { class: "mono", id: "account-address" }, address)],
      ["next nonce", String(account.nonce)],
      account.pending_nonce != null ? ["pending nonce", String(account.pending_nonce)] : null,
    ])),
    section("Balances", table(["asset", "balance", "base units"],
      account.balances.map((b) => [assets.get(String(b.asset)) ? assetLink(assets.get(String(b.asset))) : String(b.asset),
        amountNode(b.amount, assets.get(String(b.asset))), h("span", { class: "mono muted" }, b.amount)]), "grid balances")),
    lazySection("Transaction history", () => accountHistory(address, cursor)),
    lazySection("Positions", () => accountPositions(address, account, recent)),
    lazySection("NFTs", () => accountNfts(address, recent)),
  ];
}

async function accountHistory(address, cursor) {
  const params = [address, cursor === undefined ? null : Number(cursor), HISTORY_PAGE];
  const page = await rpc("lakh_getAccountTransactions", params);
  const receipts = page.transactions.map((t) => t.receipt);
  const ids = new Set([0]);
  receipts.forEach((r) => balanceChanges(r).forEach((c) => ids.add(c.asset)));
  const assets = await getAssets([...ids]);
  const rows = page.transactions.map((t) => {
    const r = t.receipt;
    const mine = balanceChanges(r).filter((c) => c.account === address);
    return [String(t.ordinal), txLink(r.tx_id), blockLink(r.height), r.sender === address ? "sent" : "touched",
      eventsSummary(r.events), h("span", {}, mine.map((c, i) => [i ? ", " : "", changeNode(c, assets)])),
      statusNode(r.status)];
  });
  const nav = h("div", { class: "pager" },
    cursor !== undefined ? link(`#/account/${address}`, "« newest") : null,
    page.next_cursor != null ? link(`#/account/${address}/${page.next_cursor}`, "older »", "older") : null,
    page.older_pruned ? h("span", { class: "muted" }, "older ones pruned by this node") : null);
  return [message(`${page.total} transaction(s) in all, newest first.`),
    table(["#", "transaction", "block", "role", "what", "balance change", "status"], rows, "grid history"), nav];
}

// Every module position this account has that can be asked for.
async function accountPositions(address, account, recent) {
  const parts = await Promise.all([
    lendPosition(address), stakePositions(address), dexPositions(address, account),
    bookPositions(address), coverPositions(address), farmPositions(address, recent),
  ]);
  return parts.flat().filter(Boolean);
}

async function lendPosition(address) {
  const p = await query("lend", "position", { account: address });
  if (p.positions.length === 0) return h("h3", {}, "lend: none");
  const assets = await getAssets(p.positions.map((x) => x.asset));
  return [h("h3", {}, "lend"),
    table(["market", "supplied", "debt", "collateral factor"], p.positions.map((x) => [
      assetLink(assets.get(String(x.asset))), amountNode(x.supplied, assets.get(String(x.asset))),
      amountNode(x.debt, assets.get(String(x.asset))), wadPercent(x.collateral_factor)])),
    healthFacts(p)];
}

function healthFacts(p) {
  return facts([
    ["health factor", p.health_factor == null ? "no debt" : formatFixed(p.health_factor, WAD_DECIMALS, 3)],
    ["healthy", p.healthy ? "yes" : "NO (liquidatable)"],
    ["collateral value (USD)", p.collateral_value == null ? p.price_error : formatFixed(p.collateral_value, WAD_DECIMALS, 2)],
    ["debt value (USD)", p.debt_value == null ? p.price_error : formatFixed(p.debt_value, WAD_DECIMALS, 2)],
    ["borrowing capacity left (USD)", p.borrow_capacity_left == null ? "—" : formatFixed(p.borrow_capacity_left, WAD_DECIMALS, 2)],
  ]);
}

async function stakePositions(address) {
  const d = await query("stake", "delegations", { delegator: address });
  if (d.delegations.length === 0) return h("h3", {}, "stake: none");
  const lakh = (await getAssets([0])).get("0");
  return [h("h3", {}, "stake"), table(["validator", "delegated", "pending rewards", "unbonding"],
    d.delegations.map((x) => [accountLink(x.validator), amountNode(x.amount, lakh),
      amountNode(x.pending_rewards, lakh), amountNode(x.unbonding_total, lakh)]))];
}

async function dexPositions(address, account) {
  const pools = await listPools();
  const held = new Set(account.balances.map((b) => String(b.asset)));
  const mine = pools.filter((p) => held.has(String(p.lp_asset)));
  if (mine.length === 0) return h("h3", {}, "dex: none");
  const answers = await rpcBatch(mine.map((p) => ["lakh_query", ["dex", "position", { owner: address, a: p.asset_a, b: p.asset_b }]]));
  const assets = await getAssets(mine.flatMap((p) => [p.asset_a, p.asset_b, p.lp_asset]));
  return [h("h3", {}, "dex"), table(["pool", "shares", "withdrawable"], mine.map((p, i) => {
    const x = answers[i].result;
    const [a, b, lp] = [assets.get(String(p.asset_a)), assets.get(String(p.asset_b)), assets.get(String(p.lp_asset))];
    return [`${a.symbol}/${b.symbol}`, x ? h("span", {}, amountNode(x.shares, lp), ` of ${formatUnits(x.total_shares, lp.decimals)}`) : "—",
      x ? h("span", {}, amountNode(x.amount_a, a), " + ", amountNode(x.amount_b, b)) : "—"];
  }))];
}

// Ids 1, 2, ... of admin-created markets and pools, until one is missing:
// asked a page at a time, up to `most`.
async function probeIds(module, method, param, most = 1024) {
  const found = [];
  for (let first = 1; first <= most; first += PROBE_PAGE) {
    const ids = Array.from({ length: PROBE_PAGE }, (_, i) => first + i);
    const answers = await rpcBatch(ids.map((id) => ["lakh_query", [module, method, { [param]: id }]]));
    for (const a of answers) {
      if (!a.result) return found;
      found.push(a.result);
    }
  }
  return found;
}

async function bookPositions(address) {
  const markets = await probeIds("book", "market", "market");
  const answers = await rpcBatch(markets.map((m) => ["lakh_query", ["book", "claimable", { market: m.market, owner: address }]]));
  const rows = [];
  for (const [i, m] of markets.entries()) {
    const c = answers[i].result;
    if (!c || (c.open_orders === 0 && BigInt(c.base) === 0n && BigInt(c.quote) === 0n)) continue;
    const assets = await getAssets([m.base, m.quote]);
    rows.push([link(`#/book/${m.market}`, `market ${m.market}`), String(c.open_orders),
      h("span", {}, amountNode(c.base, assets.get(String(m.base))), " + ", amountNode(c.quote, assets.get(String(m.quote))))]);
  }
  return rows.length ? [h("h3", {}, "book"), table(["market", "open orders", "claimable"], rows)] : h("h3", {}, "book: none");
}

async function coverPositions(address) {
  const pools = await probeIds("cover", "pool", "pool");
  const answers = await rpcBatch(pools.map((p) => ["lakh_query", ["cover", "position", { pool: p.pool, owner: address }]]));
  const rows = [];
  for (const [i, p] of pools.entries()) {
    const x = answers[i].result;
    if (!x || BigInt(x.shares) === 0n) continue;
    const asset = (await getAssets([p.params.capital_asset])).get(String(p.params.capital_asset));
    rows.push([`pool ${p.pool}`, String(x.shares), amountNode(x.withdraw_value, asset)]);
  }
  return rows.length ? [h("h3", {}, "cover"), table(["pool", "shares", "worth"], rows)] : h("h3", {}, "cover: none");
}

// Farm ids are derived, not listed: the ones in the account's recent
// history are asked about.
async function farmPositions(address, recent) {
  const page = await recent;
  const farms = new Set();
  page.transactions.forEach((t) => t.receipt.events.forEach((e) => {
    if (e.type === "farm" && e.farm !== undefined) farms.add(String(e.farm));
  }));
  const rows = [];
  for (const farm of farms) {
    const x = await queryOrNull("farm", "position", { farm: BigInt(farm), owner: address });
    if (!x || BigInt(x.staked) === 0n) continue;
    const assets = await getAssets([x.stake_asset ?? 0, x.reward_asset ?? 0]);
    rows.push([h("span", { class: "mono" }, farm), amountNode(x.staked, assets.get(String(x.stake_asset ?? 0))),
      amountNode(x.pending_rewards, assets.get(String(x.reward_asset ?? 0)))]);
  }
  return rows.length ? [h("h3", {}, "farm"), table(["farm", "staked", "pending rewards"], rows)] : h("h3", {}, "farm: none");
}

// Tokens are found through the account's recent history (state cannot be
// listed by owner); those it still owns are shown.
async function accountNfts(address, recent) {
  const page = await recent;
  const tokens = new Set();
  page.transactions.forEach((t) => t.receipt.events.forEach((e) => {
    if (e.type === "nft" && e.token !== undefined) tokens.add(String(e.token));
  }));
  const answers = await rpcBatch([...tokens].map((t) => ["lakh_query", ["nft", "token", { token: BigInt(t) }]]));
  const owned = answers.map((a) => a.result).filter((t) => t && t.info.owner === address);
  if (owned.length === 0) return message("No NFT found in its last 100 transactions that it still owns.");
  return table(["token", "collection", "edition"], owned.map((t) => [tokenLink(t.token),
    h("span", {}, h("span", { class: "user-text" }, t.collection.name), " ", h("span", { class: "muted" }, `(${t.collection.symbol})`)),
    String(t.info.edition)]), "grid nfts");
}

// -- asset

async function viewAsset(ref) {
  const asset = await getAsset(/^\d+$/.test(ref) ? BigInt(ref) : ref.toUpperCase());
  if (!asset) return section(`Asset ${ref}`, message("No such asset.", "error"));
  return [
    section(`Asset ${asset.symbol}`, facts([
      ["id", String(asset.id)],
      ["symbol", h("span", { class: "user-text", id: "asset-symbol" }, asset.symbol)],
      ["decimals", String(asset.decimals)],
      ["issuer", asset.issuer ? accountLink(asset.issuer) : "none (native token)"],
      ["supply", amountNode(asset.supply, asset)],
      ["max supply", asset.max_supply ? amountNode(asset.max_supply, asset) : "uncapped"],
    ])),
    lazySection("Oracle price", async () => {
      const p = await query("oracle", "price", { asset: asset.id });
      return facts([["status", p.status], ["price (USD per whole token)", p.price ? formatFixed(p.price, WAD_DECIMALS, 6) : p.error],
        ["fresh reports", String(p.fresh_reports)], ["as of", blockLink(p.height)]]);
    }),
    lazySection("Lending market", async () => {
      const m = await queryOrNull("lend", "market", { asset: asset.id });
      return m ? marketFacts(m, asset) : message("No lending market for this asset.");
    }),
    lazySection("DEX pools", async () => {
      const id = String(asset.id);
      const pools = (await listPools()).filter((p) => [p.asset_a, p.asset_b, p.lp_asset].map(String).includes(id));
      return poolsTable(pools);
    }),
  ];
}

// -- dex

let poolsCache = null;

// Pools cannot be listed: every pair of the first POOL_ASSETS bank assets
// is asked for, in batches.
const POOL_ASSETS = 64;
const PAIRS_PER_BATCH = 256;
async function listPools() {
  if (poolsCache && Date.now() - poolsCache.at < 5000) return poolsCache.pools;
  const assets = (await listBankAssets()).slice(0, POOL_ASSETS);
  const pairs = [];
  for (let i = 0; i < assets.length; i++) for (let j = i + 1; j < assets.length; j++) pairs.push([assets[i].id, assets[j].id]);
  const pools = [];
  for (let at = 0; at < pairs.length; at += PAIRS_PER_BATCH) {
    const batch = pairs.slice(at, at + PAIRS_PER_BATCH);
    const answers = await rpcBatch(batch.map(([a, b]) => ["lakh_query", ["dex", "pool", { a, b }]]));
    pools.push(...answers.map((x) => x.result).filter(Boolean));
  }
  poolsCache = { at: Date.now(), pools };
  return pools;
}

// How many `b` one whole `a` is worth, from reserves (display precision).
function poolPrice(pool, a, b) {
  const ra = BigInt(pool.reserve_a), rb = BigInt(pool.reserve_b);
  if (ra === 0n) return "—";
  const shown = 6;
  const scaled = (rb * pow10(a.decimals) * pow10(shown)) / (ra * pow10(b.decimals));
  return formatUnits(scaled, shown);
}

async function poolsTable(pools) {
  const assets = await getAssets(pools.flatMap((p) => [p.asset_a, p.asset_b, p.lp_asset]));
  return table(["pair", "reserves", "price", "LP asset", "shares", "custody"], pools.map((p) => {
    const [a, b, lp] = [assets.get(String(p.asset_a)), assets.get(String(p.asset_b)), assets.get(String(p.lp_asset))];
    return [h("span", {}, assetLink(a), "/", assetLink(b)),
      h("span", {}, amountNode(p.reserve_a, a), " + ", amountNode(p.reserve_b, b)),
      h("span", {}, `1 ${a.symbol} = ${poolPrice(p, a, b)} ${b.symbol}`, h("br"),
        `1 ${b.symbol} = ${poolPrice({ reserve_a: p.reserve_b, reserve_b: p.reserve_a }, b, a)} ${a.symbol}`), link(`#/asset/${p.lp_asset}`, p.lp_symbol, "symbol"),
      lp ? formatUnits(p.total_shares, lp.decimals) : p.total_shares, accountLink(p.custody)];
  }), "grid pools");
}

async function viewDex() {
  const pools = await listPools();
  return section(`DEX pools (${pools.length})`, await poolsTable(pools),
    message("Constant-product pools; 0.3% of every swap stays in the pool."));
}

// -- order book

async function viewBook(marketId = "1") {
  const markets = await probeIds("book", "market", "market");
  const market = markets.find((m) => String(m.market) === String(marketId));
  const picker = h("p", {}, "markets: ", markets.map((m) => [link(`#/book/${m.market}`, `#${m.market}`), " "]));
  if (!market) return section("Order book", picker, message(`No market ${marketId}.`, "error"));
  const [book, assets] = await Promise.all([query("book", "book", { market: market.market, depth: 20 }),
    getAssets([market.base, market.quote])]);
  const [base, quote] = [assets.get(String(market.base)), assets.get(String(market.quote))];
  // A price is quote units per lot: per whole base token it is
  // price × 10^base_decimals / lot_size quote units.
  const perWhole = (price) => (BigInt(price) * pow10(base.decimals)) / BigInt(market.lot_size);
  const depthRows = (levels) => {
    let total = 0n;
    return levels.map((l) => { total += BigInt(l.quantity); return { ...l, total }; });
  };
  const asks = depthRows(book.asks), bids = depthRows(book.bids);
  const deepest = [...asks, ...bids].reduce((m, l) => (l.total > m ? l.total : m), 1n);
  const row = (l, side) => [amountNode(perWhole(l.price), quote), amountNode(l.quantity, base), String(l.orders),
    h("span", { class: `depth ${side}` }, h("span", { class: "bar", "data-w": String((l.total * 100n) / deepest) }),
      formatUnits(l.total, base.decimals))];
  const content = section(`Order book: market ${market.market}, ${base.symbol}/${quote.symbol}`, picker,
    facts([["best bid", market.best_bid ? amountNode(perWhole(market.best_bid), quote) : "—"],
      ["best ask", market.best_ask ? amountNode(perWhole(market.best_ask), quote) : "—"],
      ["lot", amountNode(market.lot_size, base)], ["fees", `maker ${bpsPercent(market.maker_fee_bps)}, taker ${bpsPercent(market.taker_fee_bps)}`]]),
    h("div", { class: "two" },
      h("div", {}, h("h3", {}, "asks"), table([`price (${quote.symbol} per ${base.symbol})`, "quantity", "orders", "depth"], asks.slice().reverse().map((l) => row(l, "ask")), "grid book")),
      h("div", {}, h("h3", {}, "bids"), table([`price (${quote.symbol} per ${base.symbol})`, "quantity", "orders", "depth"], bids.map((l) => row(l, "bid")), "grid book"))));
  // Bar widths are set as properties: the page's policy allows no inline
  // style attributes.
  content.querySelectorAll(".bar").forEach((bar) => { bar.style.width = `${bar.dataset.w}%`; });
  return content;
}

// -- lending

function marketFacts(m, asset) {
  const apr = (rate) => wadPercent(BigInt(rate) * BLOCKS_PER_YEAR, 2);
  return facts([
    ["supplied", amountNode(m.supplied, asset)], ["borrowed", amountNode(m.borrows, asset)],
    ["cash", amountNode(m.cash, asset)], ["reserves", amountNode(m.reserves, asset)],
    ["utilization", wadPercent(m.utilization)],
    ["borrow rate", `${wadPercent(m.borrow_rate_per_block, 8)} per block (${apr(m.borrow_rate_per_block)} a year at 1 block/s)`],
    ["supply rate", `${wadPercent(m.supply_rate_per_block, 8)} per block (${apr(m.supply_rate_per_block)} a year at 1 block/s)`],
    ["collateral factor", wadPercent(m.params.collateral_factor)],
    ["liquidation incentive", wadPercent(m.params.liquidation_incentive)],
  ]);
}

async function viewLend() {
  const { markets } = await query("lend", "markets", {});
  const assets = await getAssets(markets.map((m) => m.asset));
  const apr = (rate) => wadPercent(BigInt(rate) * BLOCKS_PER_YEAR, 2);
  const input = h("input", { type: "text", placeholder: "account address", "aria-label": "account", class: "mono" });
  const result = h("div");
  const check = async (ev) => {
    ev.preventDefault();
    result.replaceChildren(message("Loading…"));
    try {
      result.replaceChildren(await lendPosition(input.value.trim().toLowerCase().replace(/^0x/, "")));
    } catch (e) {
      result.replaceChildren(message(errorText(e), "error"));
    }
  };
  return [
    section(`Lending markets (${markets.length})`, table(["asset", "supplied", "borrowed", "utilization", "borrow APR", "supply APR", "collateral factor"],
      markets.map((m) => {
        const a = assets.get(String(m.asset));
        return [assetLink(a), amountNode(m.supplied, a), amountNode(m.borrows, a), wadPercent(m.utilization),
          apr(m.borrow_rate_per_block), apr(m.supply_rate_per_block), wadPercent(m.params.collateral_factor)];
      }), "grid markets"), message("Rates are per block; the yearly figures assume one block a second.")),
    section("Account health", h("form", { onsubmit: check, class: "inline" }, input, h("button", { type: "submit" }, "Check")), result),
  ];
}

// -- validators

async function viewValidators() {
  const [vals, epoch, committee] = await Promise.all([query("stake", "validators", {}), query("stake", "epoch", {}),
    queryOrNull("stake", "committee", {})]);
  const lakh = (await getAssets([0])).get("0");
  return [
    section("Epoch", facts([["epoch", String(epoch.epoch)], ["height", blockLink(epoch.height)], ["last height of the epoch", String(epoch.last_height)],
      ["blocks per epoch", String(epoch.params.epoch_blocks)], ["committee size", String(epoch.params.committee_size)]])),
    section(`Validators (${vals.validators.length})`, table(["validator", "stake", "self-bond", "commission", "delegations", "in committee", "jailed"],
      vals.validators.map((v) => [accountLink(v.address), amountNode(v.stake, lakh), amountNode(v.self_bond, lakh),
        bpsPercent(v.commission_bps), String(v.delegations), v.in_committee ? "yes" : "no", v.jailed ? "JAILED" : "no"]))),
    section(`Committee of epoch ${committee?.epoch ?? "?"}`, committee ? table(["#", "identity", "p2p address"],
      committee.members.map((m, i) => [String(i), accountLink(m.identity), h("span", { class: "mono" }, m.p2p_address)])) : message("unknown")),
  ];
}

// -- nft

const NFT_HISTORY_PAGE = 20;

async function viewNft(id, before) {
  const t = await queryOrNull("nft", "token", { token: BigInt(id) });
  if (!t) return section(`NFT ${id}`, message("No such token.", "error"));
  const history = await query("nft", "history", { token: BigInt(id), limit: NFT_HISTORY_PAGE, ...(before ? { before: Number(before) } : {}) });
  const assets = await getAssets([...assetIdsIn(history), ...assetIdsIn(t.listing ?? {}), 0]);
  const info = t.info, c = t.collection, p = t.provenance;
  const sales = history.entries.filter((e) => e.entry.event === "sold");
  return [
    section(`NFT ${id}`, facts([
      ["collection", h("span", {}, h("span", { class: "user-text", id: "nft-collection-name" }, c.name), " ",
        h("span", { class: "muted" }, "("), h("span", { class: "user-text" }, c.symbol), h("span", { class: "muted" }, ") "), collectionLink(info.collection))],
      ["edition", String(info.edition)],
      ["owner", accountLink(info.owner)], ["creator", accountLink(info.creator)],
      ["content hash", h("span", { class: "mono" }, info.content_hash)],
      ["uri", h("span", { class: "user-text" }, info.uri)],
      ["frozen", info.frozen ? "yes" : "no"], ["flagged", info.flagged ? "YES" : "no"],
      ["royalty", bpsPercent(c.royalty_bps)],
      ["listing", t.listing ? h("span", {}, amountNode(t.listing.price, assets.get(String(t.listing.asset))), t.listing_live ? " (live)" : " (dead)", " by ", accountLink(t.listing.seller)) : "not listed"],
    ])),
    section("Provenance", p ? facts([
      ["model", h("span", { class: "mono" }, p.model_id)], ["model version", h("span", { class: "user-text" }, p.model_version)],
      ["output hash", h("span", { class: "mono" }, p.output_hash)], ["prompt hash (committed, then revealed)", h("span", { class: "mono" }, p.prompt_hash)],
      ["seed", String(p.seed)], ["committed at", blockLink(p.committed_height)], ["recorded at", blockLink(p.recorded_height)],
      ["contributors", h("span", {}, p.contributors.map((a, i) => [i ? ", " : "", accountLink(a)]))],
      ["attested by", h("span", { id: "nft-attesters" }, p.attestations.length ? p.attestations.map((a, i) => [i ? ", " : "", accountLink(a)]) : "nobody yet")],
      ["conflicting records", String(p.conflicts)],
    ]) : message("No provenance recorded.")),
    section(`Sales (${sales.length} on this page)`, table(["block", "seller", "buyer", "price", "royalty", "fee"],
      sales.map((e) => [blockLink(e.height), accountLink(e.entry.from), accountLink(e.entry.to),
        amountNode(e.entry.price, assets.get(String(e.entry.asset))), amountNode(e.entry.royalty, assets.get(String(e.entry.asset))),
        amountNode(e.entry.fee, assets.get(String(e.entry.asset)))]), "grid sales")),
    section(`History (${history.total} entries, oldest first)`,
      table(["block", "event", "details"], history.entries.map((e) => [blockLink(e.height), e.entry.event, objectNode(e.entry, assets)]), "grid nft-history"),
      history.before != null ? link(`#/nft/${id}/${history.before}`, "earlier »") : null),
  ];
}

async function viewCollection(id) {
  const answer = await queryOrNull("nft", "collection", { collection: BigInt(id) });
  if (!answer) return section(`Collection ${id}`, message("No such collection.", "error"));
  const c = answer.info;
  return section(`Collection ${id}`, facts([
    ["name", h("span", { class: "user-text", id: "collection-name" }, c.name)],
    ["symbol", h("span", { class: "user-text" }, c.symbol)],
    ["creator", accountLink(c.creator)], ["created at", blockLink(c.created_height)],
    ["kind", objectNode(c.kind, new Map())], ["policy", c.policy.policy],
    ["royalty", bpsPercent(c.royalty_bps)],
    ["split", h("span", {}, c.split.map((s, i) => [i ? ", " : "", accountLink(s.recipient), ` × ${s.share}`]))],
    ["verified by", c.verified_by ? accountLink(c.verified_by) : "nobody"],
  ]));
}

// ---------------------------------------------------------------- start

function start() {
  document.getElementById("search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = document.getElementById("search-input");
    const q = input.value.trim();
    input.value = "";
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });
  window.addEventListener("hashchange", render);
  connectLive();
  render();
}

start();
