// Chat page of the loopback Telegram emulator: plays the customer's Telegram app (no innerHTML for content).
"use strict";

const state = { chatId: null, version: -1, poll: null, blocked: false, bot: null, commands: [], commandFilter: null };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function profile() {
  return { first_name: $("first-name").value.trim() || "Ana", language_code: $("language").value };
}

function clock(unix) {
  const d = new Date(unix * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function mediaNode(msg) {
  if (msg.photo && msg.photo.length) {
    const img = el("img");
    img.alt = "photo";
    img.src = "/ui/files/" + encodeURIComponent(msg.photo[msg.photo.length - 1].file_id);
    return img;
  }
  if (msg.document || msg.voice) {
    const file = msg.document || msg.voice;
    const link = el("a", "file");
    link.href = "/ui/files/" + encodeURIComponent(file.file_id);
    link.target = "_blank";
    link.append(el("span", "file-icon", msg.voice ? "\u266A" : "\u2193"));
    const label = el("span");
    label.append(el("div", "file-name", msg.voice ? "Voice message" : file.file_name || "file"));
    label.append(el("div", "chat-meta", Math.max(1, Math.round((file.file_size || 0) / 1024)) + " KB"));
    link.append(label);
    return link;
  }
  if (msg.sticker) return el("div", "sticker", msg.sticker.emoji || "\u{1F5BC}");
  return null;
}

function keyboardNode(msg) {
  const rows = (msg.reply_markup && msg.reply_markup.inline_keyboard) || [];
  if (!rows.length) return null;
  const board = el("div", "keyboard");
  for (const row of rows) {
    const line = el("div", "kb-row");
    for (const button of row) {
      const b = el("button", null, button.text);
      b.type = "button";
      if (button.callback_data !== undefined) b.addEventListener("click", () => press(msg.message_id, button.callback_data));
      else if (button.url) b.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
      line.append(b);
    }
    board.append(line);
  }
  return board;
}

function messageNode(msg) {
  const wrap = el("div", "msg " + (msg.from && msg.from.is_bot ? "in" : "out"));
  wrap.dataset.messageId = msg.message_id;
  const bubble = el("div", "bubble");
  const media = mediaNode(msg);
  if (media) bubble.append(media);
  const text = msg.text !== undefined ? msg.text : msg.caption;
  if (text) bubble.append(el("span", "text", text));
  bubble.append(el("span", "meta", (msg.edit_date ? "edited " : "") + clock(msg.date)));
  wrap.append(bubble);
  const board = keyboardNode(msg);
  if (board) wrap.append(board);
  return wrap;
}

function render(data) {
  const box = $("messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  box.replaceChildren();
  if (!data.messages.length) box.append(el("div", "empty", "No messages here yet. Say hello to the bot."));
  for (const msg of data.messages) box.append(messageNode(msg));
  if (data.blocked) box.append(el("div", "service", "You blocked this bot"));
  if (nearBottom || state.version < 0) box.scrollTop = box.scrollHeight;
  state.blocked = data.blocked;
  state.commands = data.commands || [];
  $("menu").hidden = !state.commands.length;
  showCommands(state.commandFilter);
  $("block").textContent = data.blocked ? "Unblock bot" : "Block bot";
  $("bot-status").textContent = data.blocked ? "blocked" : data.typing ? "typing\u2026" : "bot";
}

async function refreshChats() {
  const res = await fetch("/ui/api/chats");
  const data = await res.json();
  state.bot = data.bot;
  $("bot-name").textContent = data.bot.first_name;
  $("bot-avatar").textContent = data.bot.first_name.slice(0, 1).toUpperCase();
  const list = $("chat-list");
  list.replaceChildren();
  for (const chat of data.chats) {
    const item = el("li", chat.id === state.chatId ? "active" : "");
    item.append(el("span", "avatar", chat.first_name.slice(0, 1).toUpperCase()));
    const label = el("div");
    label.append(el("div", "chat-name", chat.first_name));
    label.append(el("div", "chat-meta", "id " + chat.id + (chat.language_code ? " \u00b7 " + chat.language_code : "")));
    item.append(label);
    item.addEventListener("click", () => {
      $("first-name").value = chat.first_name;
      $("language").value = chat.language_code || "";
      $("chat-id").value = chat.id;
      openChat(chat.id);
    });
    list.append(item);
  }
}

async function pollLoop(chatId, signal) {
  while (!signal.aborted && state.chatId === chatId) {
    try {
      const language = encodeURIComponent($("language").value);
      const res = await fetch(`/ui/api/chats/${chatId}?since=${state.version}&language_code=${language}`, { signal });
      const data = await res.json();
      if (state.chatId !== chatId) return;
      render(data);
      state.version = data.version;
      refreshChats();
    } catch (err) {
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function openChat(chatId) {
  if (state.poll) state.poll.abort();
  state.chatId = chatId;
  localStorage.setItem("tg-chat", String(chatId));
  state.version = -1;
  state.poll = new AbortController();
  pollLoop(chatId, state.poll.signal);
  refreshChats();
  $("text").focus();
}

async function post(path, body) {
  const res = await fetch(path, body instanceof FormData ? { method: "POST", body } : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(await res.text());
  return res.json();
}

async function press(messageId, data) {
  await post(`/ui/api/chats/${state.chatId}/press`, { message_id: messageId, data });
}

async function send(event) {
  event.preventDefault();
  const chatId = Number($("chat-id").value);
  if (state.chatId !== chatId) openChat(chatId);
  const form = new FormData();
  const { first_name, language_code } = profile();
  form.append("first_name", first_name);
  form.append("language_code", language_code);
  form.append("text", $("text").value);
  const file = $("file").files[0];
  if (file) form.append("file", file, file.name);
  if (!file && !$("text").value.trim()) return;
  $("send").disabled = true;
  try {
    await post(`/ui/api/chats/${chatId}/messages`, form);
    $("text").value = "";
    $("file").value = "";
    showAttachment();
    showCommands(null);
  } finally {
    $("send").disabled = false;
    $("text").focus();
  }
}

// The bot's commands as Telegram lists them: all of them from the Menu button, the matching ones while typing "/".
function showCommands(typed) {
  state.commandFilter = typed;
  const list = $("commands");
  const shown = typed === null ? [] : state.commands.filter((c) => ("/" + c.command).startsWith(typed));
  list.replaceChildren();
  for (const command of shown) {
    const item = el("button");
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.append(el("span", "command-name", "/" + command.command), el("span", "command-desc", command.description));
    item.addEventListener("click", () => {
      $("text").value = "/" + command.command;
      showCommands(null);
      $("composer").requestSubmit();
    });
    list.append(item);
  }
  list.hidden = !shown.length;
  $("menu").setAttribute("aria-expanded", String(!list.hidden));
}

function showAttachment() {
  const file = $("file").files[0];
  $("attachment").hidden = !file;
  $("attachment").textContent = file ? "Attached: " + file.name : "";
}

$("profile").addEventListener("submit", (event) => {
  event.preventDefault();
  openChat(Number($("chat-id").value));
});
$("composer").addEventListener("submit", send);
$("file").addEventListener("change", showAttachment);
$("menu").addEventListener("click", () => showCommands($("commands").hidden ? "/" : null));
$("text").addEventListener("input", () => showCommands(/^\/\w*$/.test($("text").value) ? $("text").value : null));
$("block").addEventListener("click", async () => {
  if (state.chatId === null) return;
  await post(`/ui/api/chats/${state.chatId}/block`, { blocked: !state.blocked });
});
// Back on the page: reopen the last chat as its customer (name and language), so the next message keeps them.
async function start() {
  const last = Number(localStorage.getItem("tg-chat"));
  const chats = (await (await fetch("/ui/api/chats")).json()).chats;
  const chat = chats.find((c) => c.id === last) || chats[chats.length - 1];
  if (chat) {
    $("first-name").value = chat.first_name;
    $("language").value = chat.language_code || "";
    $("chat-id").value = chat.id;
  }
  openChat(Number($("chat-id").value));
}

start();
