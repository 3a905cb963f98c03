// Slack-like agent page for the Switchboard sandbox: renders /ui/state, replies via /ui/reply, clicks via /ui/action.
// Every piece of message data is inserted with textContent / DOM nodes: customer text is untrusted.
"use strict";

const state = {
  data: null, version: -1, openThread: null, pane: "channel", homeError: "",
  agent: localStorage.getItem("sb-agent") || "U0AGENT1",
  // The menus an agent has open (a multi-select's, a message's ⋯): the page re-renders from the polled state on
  // every change, and they stay open through it, as in Slack, until the agent closes them or clicks elsewhere.
  openMenus: new Set(),
};
const $ = (id) => document.getElementById(id);
const EMOJI = {
  wave: "\u{1F44B}", white_check_mark: "\u2705", heavy_check_mark: "\u2714\uFE0F", x: "\u274C", eyes: "\u{1F440}",
  warning: "\u26A0\uFE0F", speech_balloon: "\u{1F4AC}", globe_with_meridians: "\u{1F310}", telephone_receiver: "\u{1F4DE}",
  star: "\u2B50", tada: "\u{1F389}", bust_in_silhouette: "\u{1F464}", email: "\u{1F4E7}", link: "\u{1F517}",
  hourglass: "\u231B", lock: "\u{1F512}", paperclip: "\u{1F4CE}", thumbsup: "\u{1F44D}", "+1": "\u{1F44D}", pushpin: "\u{1F4CC}",
};
const SAFE_LINK = /^(https?:|mailto:)/i;
// chat.getPermalink's links into this workspace (e.g. a card's "Earlier" conversations) open the thread here.
const PERMALINK = /^https:\/\/[\w-]+\.slack\.com\/archives\/[A-Z0-9]+\/p(\d+)(\d{6})(?:\?thread_ts=([\d.]+))?/;
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
  } else if (PERMALINK.test(unescapeSlack(target))) {
    const [, seconds, micros, threadTs] = PERMALINK.exec(unescapeSlack(target));
    const a = el("a", null, unescapeSlack(label || target));
    a.href = "#thread-" + (threadTs || seconds + "." + micros);
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      showPane("channel");
      openThread(threadTs || seconds + "." + micros);
    });
    parent.appendChild(a);
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

// ``target`` says where an element lives: {message_ts} for a message, {view_id} for a Home tab or a modal; ``where``
// tells apart the two copies of a thread's root (in the channel and in the thread pane), each with its own menus.
function renderElement(element, target, where) {
  if (element.type === "button") {
    const style = element.style === "primary" ? " primary" : element.style === "danger" ? " danger" : "";
    const button = el("button", "btn" + style, emojify((element.text && element.text.text) || "Button"));
    button.type = "button";
    button.addEventListener("click", (ev) => {
      ev.stopPropagation();
      sendAction(button, target, element.action_id, element.value);
    });
    return button;
  }
  if (element.type === "static_select" || element.type === "overflow" || element.type === "users_select") {
    const options = element.type === "users_select"
      ? state.data.agents.map((id) => ({ value: id, text: { text: userName(id) } }))
      : element.options || [];
    const select = el("select", "select");
    select.setAttribute("aria-label", (element.placeholder && element.placeholder.text) || element.action_id);
    const placeholder = el("option", null, (element.placeholder && element.placeholder.text) || "Choose...");
    placeholder.value = "";
    select.appendChild(placeholder);
    for (const option of options) {
      const opt = el("option", null, (option.text && option.text.text) || option.value);
      opt.value = option.value;
      select.appendChild(opt);
    }
    select.value = element.initial_user || (element.initial_option && element.initial_option.value) || "";
    select.addEventListener("click", (ev) => ev.stopPropagation());
    select.addEventListener("change", () => {
      if (select.value) sendAction(select, target, element.action_id, select.value);
    });
    return select;
  }
  if (element.type === "multi_static_select") return multiSelect(element, target, where);
  if (element.type === "image") {
    const img = el("img", "b-thumb");
    img.src = element.image_url;
    img.alt = element.alt_text || "";
    return img;
  }
  return textObject(element, "text");
}

// A multi-select as Slack shows it: the chosen options, and a menu of checkboxes; every change sends them all.
function multiSelect(element, target, where) {
  const chosen = new Set((element.initial_options || []).map((o) => o.value));
  const label = (o) => (o.text && o.text.text) || o.value;
  const box = el("details", "multi");
  const key = "multi " + where + " " + JSON.stringify(target) + " " + element.action_id;
  box.open = state.openMenus.has(key);
  box.addEventListener("toggle", () => (box.open ? state.openMenus.add(key) : state.openMenus.delete(key)));
  const placeholder = (element.placeholder && element.placeholder.text) || "Choose...";
  const picked = (element.options || []).filter((o) => chosen.has(o.value)).map(label);
  box.appendChild(el("summary", "select", picked.length ? picked.join(", ") : placeholder));
  box.setAttribute("aria-label", placeholder);
  box.addEventListener("click", (ev) => {
    ev.stopPropagation();  // not a click on the message (which opens its thread)
    closeMenus(box);
  });
  const menu = el("div", "multi-menu");
  for (const option of element.options || []) {
    const row = el("label", "multi-option");
    const check = el("input");
    check.type = "checkbox";
    check.checked = chosen.has(option.value);
    check.addEventListener("change", () => {
      if (check.checked) chosen.add(option.value);
      else chosen.delete(option.value);
      const values = (element.options || []).map((o) => o.value).filter((v) => chosen.has(v));
      sendAction(menu, target, element.action_id, values.join(","));
    });
    row.append(check, document.createTextNode(" " + label(option)));
    menu.appendChild(row);
  }
  box.appendChild(menu);
  return box;
}

function renderBlock(block, target, where = "view") {
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
      if (block.accessory) wrap.appendChild(renderElement(block.accessory, target, where));
      return wrap;
    }
    case "context": {
      const ctx = el("div", "b-context");
      for (const item of block.elements || []) ctx.appendChild(renderElement(item, target, where));
      return ctx;
    }
    case "actions": {
      const row = el("div", "b-actions");
      for (const item of block.elements || []) row.appendChild(renderElement(item, target, where));
      return row;
    }
    case "divider":
      return el("hr", "b-divider");
    case "image": {
      const figure = el("figure", "b-image");
      if (block.title) figure.appendChild(el("figcaption", null, block.title.text || ""));
      const img = el("img");
      img.src = block.image_url;
      img.alt = block.alt_text || "";
      figure.appendChild(img);
      return figure;
    }
    default:
      return null;
  }
}

function renderContent(message, where) {
  const box = el("div");
  const blocks = (message.blocks || []).filter((b) => b.type !== "rich_text");
  if (blocks.length) {
    const holder = el("div", "blocks" + (blocks.some((b) => b.type === "header") ? " card" : ""));
    for (const block of blocks) {
      const node = renderBlock(block, { message_ts: message.ts }, where);
      if (node) holder.appendChild(node);
    }
    box.appendChild(holder);
  } else if (message.subtype === "tombstone") {
    box.appendChild(el("div", "tombstone", message.text));
  } else if (message.text) {
    box.appendChild(mrkdwn(message.text));
  }
  for (const file of message.files || []) box.appendChild(fileNode(file));
  if (message.reactions && message.reactions.length) {
    const row = el("div", "reactions");
    for (const r of message.reactions) row.appendChild(el("span", "reaction", emojify(":" + r.name + ":") + " " + r.count));
    box.appendChild(row);
  }
  return box;
}

function fileNode(file) {
  const link = el("a", "file");
  link.href = "/ui/files/" + encodeURIComponent(file.id);
  link.target = "_blank";
  link.rel = "noopener";
  link.title = "Open " + file.name;
  link.addEventListener("click", (ev) => ev.stopPropagation());
  if ((file.mimetype || "").startsWith("image/")) {
    const img = el("img", "file-preview");
    img.src = link.href;
    img.alt = file.title || file.name;
    link.appendChild(img);
  } else {
    link.appendChild(el("span", "file-icon", (file.filetype || "file").toUpperCase().slice(0, 4)));
  }
  link.appendChild(el("span", null, file.title || file.name));
  link.appendChild(el("span", "time", formatSize(file.size)));
  return link;
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
  const appName = message.bot_profile && message.bot_profile.name;
  const custom = message.username && message.username !== appName ? message.username : "";  // e.g. a customer's name
  const name = custom || (message.bot_id ? "" : userName(message.user));
  const initials = name.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
  const node = el("div", "avatar", initials || "SB");
  node.style.background = name ? colorFor(custom || message.user || "?") : "#0b4c5f";
  return node;
}

// ``options.where`` ("channel" or "thread") tells apart the two copies of a thread's root message.
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
  body.appendChild(renderContent(message, options.where));
  if (options.ephemeral) body.appendChild(el("div", "ephemeral-note", "Only visible to you"));
  if (options.replies) body.appendChild(options.replies);
  row.appendChild(body);
  if (options.ephemeral) row.classList.add("ephemeral");
  else if (state.data.shortcuts.length) row.appendChild(moreActions(message, options.where));
  return row;
}

// The ⋯ menu of a message: the app's message shortcuts (from its manifest), as in Slack.
function moreActions(message, where) {
  const wrap = el("div", "msg-actions");
  const key = "actions " + where + " " + message.ts;
  const button = el("button", "icon-button msg-more", "\u22EF");
  button.type = "button";
  button.title = "More actions";
  button.setAttribute("aria-label", "More actions");
  const menu = el("div", "msg-menu");
  menu.dataset.menu = key;
  menu.classList.toggle("hidden", !state.openMenus.has(key));
  menu.setAttribute("role", "menu");
  for (const shortcut of state.data.shortcuts) {
    const item = el("button", "msg-menu-item", shortcut.name);
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.title = shortcut.description || "";
    item.addEventListener("click", async (ev) => {
      ev.stopPropagation();
      closeMenus();
      const body = { message_ts: message.ts, callback_id: shortcut.callback_id, user: state.agent };
      const { data } = await postJson("/ui/shortcut", body);
      if (!data.ok) toast("The bridge answered " + (data.status || data.error), true);
    });
    menu.appendChild(item);
  }
  button.addEventListener("click", (ev) => {
    ev.stopPropagation();
    const opening = menu.classList.contains("hidden");
    closeMenus(opening ? menu : null);
    if (opening) {
      state.openMenus.add(key);
      menu.classList.remove("hidden");
    }
  });
  wrap.append(button, menu);
  return wrap;
}

// Close every open menu but ``keep`` (a click elsewhere on the page, a chosen shortcut).
function closeMenus(keep = null) {
  for (const menu of document.querySelectorAll(".msg-menu:not(.hidden)")) {
    if (menu !== keep) {
      menu.classList.add("hidden");
      state.openMenus.delete(menu.dataset.menu);
    }
  }
  for (const box of document.querySelectorAll("details.multi[open]")) if (box !== keep) box.open = false;  // its toggle forgets it
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
  const row = renderMessage(message, { replies: repliesLink(message), where: "channel" });
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
    list.replaceChildren(renderMessage(root, { where: "thread" }));
    const replies = state.data.threads[root.ts] || [];
    list.appendChild(el("div", "reply-divider", replies.length + (replies.length === 1 ? " reply" : " replies")));
    const items = [...replies.map((m) => ({ m, eph: false })), ...myEphemerals(root.ts).map((m) => ({ m, eph: true }))];
    items.sort((a, b) => parseFloat(a.m.ts) - parseFloat(b.m.ts));
    for (const { m, eph } of items) list.appendChild(renderMessage(m, { ephemeral: eph, where: "thread" }));
  });
}

function renderSidebar() {
  const data = state.data;
  $("team-name").textContent = data.workspace;
  $("channel-name").textContent = data.channel.name;
  $("nav-support").classList.toggle("active", state.pane === "channel");
  $("nav-home").classList.toggle("active", state.pane === "home");
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
  renderPane();
  renderThread();
  renderModal();
}

// ---------------------------------------------------------------- main pane: the channel or the app's Home tab

function renderPane() {
  const home = state.pane === "home";
  $("channel-messages").classList.toggle("hidden", home);
  $("channel-composer").classList.toggle("hidden", home);
  $("home-pane").classList.toggle("hidden", !home);
  const title = $("pane-title");
  if (home) {
    title.replaceChildren(el("span", null, "Switchboard"), el("span", "thread-sub", "Home"));
    renderHome();
  } else {
    title.replaceChildren(document.createTextNode("# "), el("span", null, state.data.channel.name));
    renderChannel();
  }
}

function renderHome() {
  const pane = $("home-pane");
  const view = state.data.homes[state.agent];
  pane.replaceChildren();
  if (!view) {
    pane.appendChild(el("div", "empty", state.homeError || "Opening the app's Home tab..."));
    return;
  }
  const holder = el("div", "blocks home-blocks");
  for (const block of view.blocks || []) {
    const node = renderBlock(block, { view_id: view.id });
    if (node) holder.appendChild(node);
  }
  pane.appendChild(holder);
}

async function showPane(pane) {
  state.pane = pane;
  state.homeError = "";
  render();
  if (pane !== "home") return;
  const { data } = await postJson("/ui/home", { user: state.agent });  // Slack sends app_home_opened
  if (!data.ok) {
    state.homeError = "The app did not open its Home tab: " + (data.status || data.error);
    render();
  }
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
      const node = renderBlock(block, { view_id: view.id });
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

async function sendAction(control, target, actionId, value) {
  control.disabled = true;
  try {
    const { data } = await postJson("/ui/action", { ...target, action_id: actionId, user: state.agent, value });
    if (!data.ok) toast("The bridge answered " + (data.status || data.error), true);
  } catch (err) {
    toast("Action failed: " + err, true);
  } finally {
    control.disabled = false;
  }
}

// Send what a composer holds: a message (in the open thread, or in the channel) or a slash command.
async function sendFrom(form, threadTs) {
  const box = form.querySelector("textarea");
  const button = form.querySelector(".send-button");
  const text = box.value.trim();
  if (!text) return;
  button.disabled = true;
  box.value = "";  // as in Slack, the box empties on send (and gets the text back if it was not sent)
  const giveBack = () => {
    if (!box.value.trim()) box.value = text;
  };
  try {
    const body = threadTs ? { thread_ts: threadTs, user: state.agent, text } : { user: state.agent, text };
    const { data } = await postJson("/ui/reply", body);
    if (data.ok) {
      if (data.command) toast("Sent " + data.command + " to the app");
    } else if (!data.command) {  // a refused command is answered by Slackbot in the conversation
      giveBack();
      toast("Not sent: " + data.error, true);
    }
  } catch (err) {
    giveBack();
    toast("Not sent: " + err, true);
  } finally {
    button.disabled = false;
    suggest(form);
    box.focus();
  }
}

// Slack's command menu: typing "/" lists the app's commands with their usage hints.
function suggest(form) {
  const list = form.querySelector(".suggest");
  if (!list) return;
  const box = form.querySelector("textarea");
  const typed = /^\/[\w-]*$/.exec(box.value);
  const matches = typed && state.data ? state.data.commands.filter((c) => c.command.startsWith(typed[0])) : [];
  list.replaceChildren();
  list.classList.toggle("hidden", !matches.length);
  for (const command of matches) {
    const item = el("button", "suggest-item");
    item.type = "button";
    item.setAttribute("role", "option");
    const line = el("div");
    line.append(el("strong", null, command.command), el("span", "suggest-hint", " " + command.usage_hint));
    item.append(line, el("div", "suggest-desc", command.description));
    item.addEventListener("click", () => {
      box.value = command.command + " ";
      suggest(form);
      box.focus();
    });
    list.appendChild(item);
  }
}

function wireComposer(form, threadTs) {
  const box = form.querySelector("textarea");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendFrom(form, threadTs());
  });
  box.addEventListener("input", () => suggest(form));
  box.addEventListener("keydown", (ev) => {
    const first = form.querySelector(".suggest:not(.hidden) .suggest-item");
    if (ev.key === "Tab" && first) {
      ev.preventDefault();
      first.click();
    } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendFrom(form, threadTs());
    }
  });
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
  wireComposer($("composer"), () => state.openThread);
  wireComposer($("channel-composer"), () => null);
  $("nav-support").addEventListener("click", () => showPane("channel"));
  $("nav-home").addEventListener("click", () => showPane("home"));
  document.addEventListener("click", () => closeMenus());
  $("thread-close").addEventListener("click", () => {
    state.openThread = null;
    render();
  });
  $("agent-picker").addEventListener("change", (ev) => {
    state.agent = ev.target.value;
    localStorage.setItem("sb-agent", state.agent);
    showPane(state.pane);
  });
  poll();
}

document.addEventListener("DOMContentLoaded", init);
