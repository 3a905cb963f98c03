// Slack-like agent page for the Switchboard sandbox: renders /ui/state, replies via /ui/reply, clicks via /ui/action.
// Every piece of message data is inserted with textContent / DOM nodes: customer text is untrusted.
"use strict";

const state = { data: null, version: -1, openThread: null, agent: localStorage.getItem("sb-agent") || "U0AGENT1" };
const $ = (id) => document.getElementById(id);
const EMOJI = {
  wave: "\u{1F44B}", white_check_mark: "\u2705", heavy_check_mark: "\u2714\uFE0F", x: "\u274C", eyes: "\u{1F440}",
  warning: "\u26A0\uFE0F", speech_balloon: "\u{1F4AC}", globe_with_meridians: "\u{1F310}", telephone_receiver: "\u{1F4DE}",
  star: "\u2B50", tada: "\u{1F389}", bust_in_silhouette: "\u{1F464}", email: "\u{1F4E7}", link: "\u{1F517}",
  hourglass: "\u231B", lock: "\u{1F512}", paperclip: "\u{1F4CE}", thumbsup: "\u{1F44D}", "+1": "\u{1F44D}", pushpin: "\u{1F4CC}",
};
const SAFE_LINK = /^(https?:|mailto:)/i;
const COLORS = ["#e8912d", "#2bac76", "#4a154b", "#1264a3", "#e01e5a", "#36c5f0", "#9c27b0", "#795548"];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function userName(id) {
  const user = state.data && state.data.users[id];
  return user ? user.name : id;
}

// ---------------------------------------------------------------- mrkdwn

const INLINE = [
  { re: /`([^`\n]+)`/, tag: "code", recurse: false },
  { re: /(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])/, tag: "b", recurse: true },
  { re: /(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])/, tag: "i", recurse: true },
  { re: /(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])/, tag: "s", recurse: true },
];

function appendInline(parent, text) {
  let best = null;
  for (const rule of INLINE) {
    const m = rule.re.exec(text);
    if (m && (best === null || m.index < best.m.index)) best = { m, rule };
  }
  if (best === null) {
    parent.appendChild(document.createTextNode(emojify(text)));
    return;
  }
  const { m, rule } = best;
  if (m.index > 0) parent.appendChild(document.createTextNode(emojify(text.slice(0, m.index))));
  const node = el(rule.tag);
  if (rule.recurse) appendInline(node, m[1]);
  else node.textContent = m[1];
  parent.appendChild(node);
  appendInline(parent, text.slice(m.index + m[0].length));
}

function appendToken(parent, token) {
  const [target, label] = splitOnce(token, "|");
  if (target.startsWith("@")) {
    parent.appendChild(el("span", "mention", "@" + (label || userName(target.slice(1)))));
  } else if (target.startsWith("#")) {
    parent.appendChild(el("span", "mention", "#" + (label || target.slice(1))));
  } else if (target.startsWith("!")) {
    parent.appendChild(el("span", "mention", "@" + (label || target.slice(1).split("^")[0])));
  } else if (SAFE_LINK.test(target)) {
    const a = el("a", null, unescapeSlack(label || target));
    a.href = unescapeSlack(target);
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    parent.appendChild(a);
  } else {
    parent.appendChild(document.createTextNode("<" + unescapeSlack(token) + ">"));
  }
}

function splitOnce(text, sep) {
  const i = text.indexOf(sep);
  return i < 0 ? [text, ""] : [text.slice(0, i), text.slice(i + 1)];
}

function appendMrkdwnLine(parent, text) {
  const parts = text.split(/<([^<>\n]+)>/);
  parts.forEach((part, i) => {
    if (i % 2 === 1) appendToken(parent, part);
    else if (part) appendInline(parent, unescapeSlack(part));
  });
}

function mrkdwn(text, className = "text") {
  const root = el("div", className);
  const chunks = String(text || "").split(/```/);
  chunks.forEach((chunk, i) => {
    if (i % 2 === 1) root.appendChild(el("pre", null, unescapeSlack(chunk.replace(/^\n/, ""))));
    else if (chunk) appendMrkdwnLine(root, chunk);
  });
  return root;
}

function textObject(obj, className = "text") {
  if (!obj) return el("div", className);
  if (obj.type === "mrkdwn") return mrkdwn(obj.text, className);
  return el("div", className, emojify(obj.text || ""));
}

// ---------------------------------------------------------------- Block Kit

function renderElement(element, message) {
  if (element.type === "button") {
    const style = element.style === "primary" ? " primary" : element.style === "danger" ? " danger" : "";
    const button = el("button", "btn" + style, emojify((element.text && element.text.text) || "Button"));
    button.type = "button";
    button.addEventListener("click", (ev) => {
      ev.stopPropagation();
      sendAction(button, message.ts, element.action_id, element.value);
    });
    return button;
  }
  if (element.type === "static_select" || element.type === "overflow") {
    const select = el("select", "select");
    const placeholder = el("option", null, (element.placeholder && element.placeholder.text) || "Choose...");
    placeholder.value = "";
    select.appendChild(placeholder);
    for (const option of element.options || []) {
      const opt = el("option", null, (option.text && option.text.text) || option.value);
      opt.value = option.value;
      select.appendChild(opt);
    }
    select.addEventListener("click", (ev) => ev.stopPropagation());
    select.addEventListener("change", () => {
      if (select.value) sendAction(select, message.ts, element.action_id, select.value);
    });
    return select;
  }
  if (element.type === "image") return el("span", "b-image", "[" + (element.alt_text || "image") + "]");
  return textObject(element, "text");
}

function renderBlock(block, message) {
  switch (block.type) {
    case "header":
      return textObject(block.text, "b-header");
    case "section": {
      const wrap = el("div", "b-section");
      const main = el("div", "text");
      if (block.text) main.appendChild(textObject(block.text));
      if (block.fields && block.fields.length) {
        const grid = el("div", "b-fields");
        for (const field of block.fields) grid.appendChild(textObject(field));
        main.appendChild(grid);
      }
      wrap.appendChild(main);
      if (block.accessory) wrap.appendChild(renderElement(block.accessory, message));
      return wrap;
    }
    case "context": {
      const ctx = el("div", "b-context");
      for (const item of block.elements || []) ctx.appendChild(renderElement(item, message));
      return ctx;
    }
    case "actions": {
      const row = el("div", "b-actions");
      for (const item of block.elements || []) row.appendChild(renderElement(item, message));
      return row;
    }
    case "divider":
      return el("hr", "b-divider");
    case "image":
      return el("div", "b-image", "[image: " + (block.alt_text || "") + "]");
    default:
      return null;
  }
}

function renderContent(message) {
  const box = el("div");
  const blocks = (message.blocks || []).filter((b) => b.type !== "rich_text");
  if (blocks.length) {
    const holder = el("div", "blocks" + (blocks.some((b) => b.type === "header") ? " card" : ""));
    for (const block of blocks) {
      const node = renderBlock(block, message);
      if (node) holder.appendChild(node);
    }
    box.appendChild(holder);
  } else if (message.subtype === "tombstone") {
    box.appendChild(el("div", "tombstone", message.text));
  } else if (message.text) {
    box.appendChild(mrkdwn(message.text));
  }
  for (const file of message.files || []) {
    const chip = el("div", "file");
    chip.appendChild(el("span", "file-icon", (file.filetype || "file").toUpperCase().slice(0, 4)));
    chip.appendChild(el("span", null, file.title || file.name));
    chip.appendChild(el("span", "time", formatSize(file.size)));
    box.appendChild(chip);
  }
  if (message.reactions && message.reactions.length) {
    const row = el("div", "reactions");
    for (const r of message.reactions) row.appendChild(el("span", "reaction", emojify(":" + r.name + ":") + " " + r.count));
    box.appendChild(row);
  }
  return box;
}

function formatSize(bytes) {
  if (bytes === undefined) return "";
  return bytes < 1024 ? bytes + " B" : (bytes / 1024).toFixed(1) + " kB";
}

function formatTime(ts) {
  return new Date(parseFloat(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function colorFor(id) {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}

function avatar(message) {
  const isBot = Boolean(message.bot_id);
  const name = isBot ? "Switchboard" : userName(message.user);
  const initials = name.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
  const node = el("div", "avatar", isBot ? "SB" : initials);
  node.style.background = isBot ? "#0b4c5f" : colorFor(message.user || "?");
  return node;
}

function renderMessage(message, options = {}) {
  const row = el("div", "msg");
  row.dataset.ts = message.ts;
  row.appendChild(avatar(message));
  const body = el("div", "msg-body");
  const head = el("div", "msg-head");
  const isBot = Boolean(message.bot_id);
  head.appendChild(el("span", "author", message.username || (isBot ? "Switchboard" : userName(message.user))));
  if (isBot) head.appendChild(el("span", "badge", "APP"));
  head.appendChild(el("span", "time", formatTime(message.ts)));
  if (message.edited) head.appendChild(el("span", "edited", "(edited)"));
  body.appendChild(head);
  body.appendChild(renderContent(message));
  if (options.ephemeral) body.appendChild(el("div", "ephemeral-note", "Only visible to you"));
  if (options.replies) body.appendChild(options.replies);
  row.appendChild(body);
  if (options.ephemeral) row.classList.add("ephemeral");
  return row;
}

function repliesLink(root) {
  const link = el("div", "replies-link");
  const count = root.reply_count || 0;
  link.appendChild(el("span", "count", count ? count + (count === 1 ? " reply" : " replies") : "Reply in thread"));
  if (root.latest_reply) link.appendChild(el("span", "last", "Last reply " + formatTime(root.latest_reply)));
  return link;
}

// ---------------------------------------------------------------- panes

function stickToBottom(container, render) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const previous = container.scrollTop;
  render();
  container.scrollTop = atBottom ? container.scrollHeight : previous;
}

function myEphemerals(threadTs) {
  return state.data.ephemerals.filter((e) => e.user === state.agent && (e.thread_ts || null) === threadTs);
}

function renderChannel() {
  const list = $("channel-messages");
  stickToBottom(list, () => {
    list.replaceChildren();
    const items = [
      ...state.data.messages.map((m) => ({ ts: m.ts, node: channelRow(m) })),
      ...myEphemerals(null).map((e) => ({ ts: e.ts, node: renderMessage(e, { ephemeral: true }) })),
    ].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    if (!items.length) list.appendChild(el("div", "empty", "No conversations yet. Start one from the web widget or Telegram."));
    for (const item of items) list.appendChild(item.node);
  });
}

function channelRow(message) {
  const row = renderMessage(message, { replies: repliesLink(message) });
  row.classList.add("clickable");
  if (message.ts === state.openThread) row.classList.add("selected");
  row.addEventListener("click", () => openThread(message.ts));
  return row;
}

function renderThread() {
  const pane = $("thread-pane");
  const root = state.openThread && state.data.messages.find((m) => m.ts === state.openThread);
  if (!root) {
    pane.classList.add("hidden");
    return;
  }
  pane.classList.remove("hidden");
  const list = $("thread-messages");
  stickToBottom(list, () => {
    list.replaceChildren(renderMessage(root));
    const replies = state.data.threads[root.ts] || [];
    list.appendChild(el("div", "reply-divider", replies.length + (replies.length === 1 ? " reply" : " replies")));
    const items = [...replies.map((m) => ({ m, eph: false })), ...myEphemerals(root.ts).map((m) => ({ m, eph: true }))];
    items.sort((a, b) => parseFloat(a.m.ts) - parseFloat(b.m.ts));
    for (const { m, eph } of items) list.appendChild(renderMessage(m, { ephemeral: eph }));
  });
}

function renderSidebar() {
  const data = state.data;
  $("team-name").textContent = data.workspace;
  $("channel-name").textContent = data.channel.name;
  $("channel-title").textContent = data.channel.name;
  const status = $("bridge-status");
  status.textContent = data.events_url ? "Events to " + data.events_url : "Bridge not connected (no events URL)";
  status.classList.toggle("down", !data.events_url);
  const picker = $("agent-picker");
  if (!picker.options.length) {
    for (const id of data.agents) {
      const opt = el("option", null, data.users[id].name);
      opt.value = id;
      picker.appendChild(opt);
    }
    if (!data.agents.includes(state.agent)) state.agent = data.agents[0];
    picker.value = state.agent;
  }
  const dms = $("dm-list");
  dms.replaceChildren();
  for (const id of data.agents) {
    const item = el("li", "nav-item muted");
    item.appendChild(el("span", "presence"));
    item.appendChild(el("span", null, data.users[id].name + (id === state.agent ? " (you)" : "")));
    dms.appendChild(item);
  }
  $("composer-agent").textContent = data.users[state.agent] ? data.users[state.agent].name : state.agent;
}

function render() {
  if (!state.data) return;
  renderSidebar();
  renderChannel();
  renderThread();
  renderModal();
}

// ---------------------------------------------------------------- modals (views.open)

function inputControl(element) {
  if (element.type === "static_select") {
    const select = el("select", "input-field");
    select.appendChild(el("option", null, (element.placeholder && element.placeholder.text) || "Choose..."));
    select.options[0].value = "";
    for (const option of element.options || []) {
      const opt = el("option", null, (option.text && option.text.text) || option.value);
      opt.value = option.value;
      select.appendChild(opt);
    }
    if (element.initial_option) select.value = element.initial_option.value;
    return select;
  }
  const field = el(element.multiline ? "textarea" : "input", "input-field");
  if (element.multiline) field.rows = 4;
  if (element.placeholder) field.placeholder = element.placeholder.text || "";
  if (element.initial_value) field.value = element.initial_value;
  return field;
}

function renderModal() {
  const view = state.data.modals.filter((v) => v.user === state.agent).pop();
  const current = document.querySelector(".overlay");
  if (current && view && current.dataset.viewId === view.id && current.dataset.hash === view.hash) return;
  if (current) current.remove();
  if (!view) return;
  const overlay = el("div", "overlay");
  overlay.dataset.viewId = view.id;
  overlay.dataset.hash = view.hash;
  const modal = el("form", "modal");
  modal.appendChild(el("div", "modal-head", (view.title && view.title.text) || "Modal"));
  const body = el("div", "modal-body");
  const inputs = [];
  for (const block of view.blocks || []) {
    if (block.type === "input" && block.element && block.element.action_id) {
      const wrap = el("div");
      wrap.appendChild(el("div", "input-label", (block.label && block.label.text) || ""));
      const control = inputControl(block.element);
      wrap.appendChild(control);
      if (block.hint) wrap.appendChild(el("div", "input-hint", block.hint.text || ""));
      const error = el("div", "input-error");
      wrap.appendChild(error);
      inputs.push({ block, control, error });
      body.appendChild(wrap);
    } else {
      const node = renderBlock(block, { ts: "" });
      if (node) body.appendChild(node);
    }
  }
  modal.appendChild(body);
  const foot = el("div", "modal-foot");
  const cancel = el("button", "btn", (view.close && view.close.text) || "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", () => postJson("/ui/view", { view_id: view.id, user: state.agent, cancel: true }));
  foot.appendChild(cancel);
  if (view.submit) {
    const submit = el("button", "btn primary", view.submit.text || "Submit");
    submit.type = "submit";
    foot.appendChild(submit);
  }
  modal.appendChild(foot);
  modal.addEventListener("submit", (ev) => submitModal(ev, view, inputs));
  overlay.appendChild(modal);
  document.body.appendChild(overlay);
}

async function submitModal(ev, view, inputs) {
  ev.preventDefault();
  const values = {};
  for (const { block, control } of inputs) {
    values[block.block_id] = values[block.block_id] || {};
    values[block.block_id][block.element.action_id] = control.value;
  }
  const { data } = await postJson("/ui/view", { view_id: view.id, user: state.agent, values });
  let answer = {};
  try {
    answer = data.answer ? JSON.parse(data.answer) : {};
  } catch (_) {
    answer = {};
  }
  for (const { block, error } of inputs) {
    error.textContent = (answer.response_action === "errors" && answer.errors && answer.errors[block.block_id]) || "";
  }
  if (!data.ok) toast("The bridge answered " + (data.status || data.error), true);
}

function openThread(ts) {
  state.openThread = ts;
  render();
  const list = $("thread-messages");
  list.scrollTop = list.scrollHeight;
  $("composer-text").focus();
}

// ---------------------------------------------------------------- server calls

function toast(message, isError = false) {
  const node = $("toast");
  node.textContent = message;
  node.classList.toggle("error", isError);
  node.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.add("hidden"), 3000);
}

async function postJson(path, body) {
  const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = {};
  try {
    data = await resp.json();
  } catch (_) {
    data = { ok: false, error: resp.status + " " + resp.statusText };
  }
  return { resp, data };
}

async function sendAction(control, messageTs, actionId, value) {
  control.disabled = true;
  try {
    const { data } = await postJson("/ui/action", { message_ts: messageTs, action_id: actionId, user: state.agent, value });
    if (!data.ok) toast("The bridge answered " + (data.status || data.error), true);
  } catch (err) {
    toast("Action failed: " + err, true);
  } finally {
    control.disabled = false;
  }
}

async function sendReply(ev) {
  ev.preventDefault();
  const box = $("composer-text");
  const text = box.value.trim();
  if (!text || !state.openThread) return;
  $("send-button").disabled = true;
  try {
    const { data } = await postJson("/ui/reply", { thread_ts: state.openThread, user: state.agent, text });
    if (data.ok) {
      box.value = "";
      if (data.command) toast("Ran " + data.command);
    } else {
      toast("Not sent: " + data.error, true);
    }
  } catch (err) {
    toast("Not sent: " + err, true);
  } finally {
    $("send-button").disabled = false;
    box.focus();
  }
}

async function poll() {
  for (;;) {
    try {
      const resp = await fetch("/ui/state?since=" + state.version, { cache: "no-store" });
      if (!resp.ok) throw new Error(resp.status);
      const data = await resp.json();
      if (data.version !== state.version) {
        state.data = data;
        state.version = data.version;
        render();
      }
    } catch (_) {
      $("bridge-status").textContent = "Emulator unreachable, retrying...";
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function init() {
  $("composer").addEventListener("submit", sendReply);
  $("composer-text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) sendReply(ev);
  });
  $("thread-close").addEventListener("click", () => {
    state.openThread = null;
    render();
  });
  $("agent-picker").addEventListener("change", (ev) => {
    state.agent = ev.target.value;
    localStorage.setItem("sb-agent", state.agent);
    render();
  });
  poll();
}

document.addEventListener("DOMContentLoaded", init);
