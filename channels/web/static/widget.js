/*! Switchboard live-chat widget | Apache-2.0
 *
 * Embed with one tag:
 *   <script src="https://bridge.example/widget.js" async data-locale="tr" data-name="Ayşe"
 *           data-email="a@example.com" data-attributes='{"account_id":"42"}' data-color="#0a7"
 *           data-theme="light|dark|auto"></script>
 *
 * Public API: window.Switchboard.open() / close() / toggle() / setLocale(code) / identify({name,email,attributes})
 * Wire protocol: docs/widget-protocol.md. Security rules kept here: all message text goes through
 * textContent, links are built as elements, no eval, no inline handlers, nothing loaded from third parties.
 */
(function () {
  "use strict";

  if (window.Switchboard && window.Switchboard.version) return; // loaded twice: keep the first

  var VERSION = "1.0.0";
  var MAX_LEN = 10000;
  var PING_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var I18N_TIMEOUT_MS = 5000;
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var K_LOCALE = "switchboard.locale";
  var K_SESSION = "switchboard.session";
  var K_OUTBOX = "switchboard.outbox";
  var K_READ = "switchboard.read";
  var MAX_FILE_BYTES = 40 * 1024 * 1024; // the bridge's cap (it decides; this only answers sooner)
  var MAX_FILES = 15; // attachments in one message
  // what the bridge accepts, by type, and by extension for files the browser gives no type
  var FILE_TYPES = { "image/png": 1, "image/jpeg": 1, "image/gif": 1, "image/webp": 1, "application/pdf": 1, "text/plain": 1 };
  var FILE_EXTENSIONS = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", pdf: "application/pdf", txt: "text/plain" };

  var DEFAULT_STRINGS = {
    title: "Chat with us",
    placeholder: "Write a message…",
    send: "Send",
    sending: "Sending…",
    sent: "Sent",
    delivered: "Delivered",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    online: "Online",
    offline: "Offline",
    language: "Language",
    close: "Close chat",
    open: "Open chat",
    new_messages: "New messages",
    you: "You",
    agent: "Agent",
    support_team: "Support team",
    transcript: "Download transcript",
    rate_limited: "You are sending messages quickly. We will send yours in a moment.",
    attach: "Attach files",
    files: "Files to send",
    drop_files: "Drop files here to send them",
    uploading: "Uploading…",
    remove_file: "Remove file",
    file_too_large: "This file is too large. The limit is 40 MB.",
    file_type: "This kind of file cannot be sent. Send a picture (PNG, JPEG, GIF or WebP), a PDF or a text file.",
    file_empty: "This file is empty.",
    too_many_files: "A message can carry at most 15 files.",
    upload_failed: "This file could not be uploaded. Remove it and try again.",
    upload_rate_limited: "You are sending files quickly. Wait a moment, then add this one again.",
    upload_quota: "Too many files were sent from your network in the last hour. Try again later.",
    download_file: "Download",
    download_failed: "This file could not be downloaded. Try again in a moment.",
    // optional keys (the server may translate them; English fallbacks are only used for English UIs)
    greeting: "Hi there! Ask us anything, we usually reply within a few minutes.",
    failed: "Not sent",
  };
  var OPTIONAL_KEYS = { greeting: 1, failed: 1 };

  // ---------------------------------------------------------------- where we were loaded from
  var script = document.currentScript || findScript();
  function findScript() {
    var list = document.getElementsByTagName("script");
    for (var i = list.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(list[i].src || "")) return list[i];
    }
    return null;
  }
  var scriptUrl = new URL((script && script.src) || "/widget.js", location.href);
  var basePath = scriptUrl.pathname.replace(/\/[^/]*$/, ""); // folder holding widget.js
  var BASE = scriptUrl.origin + basePath;
  var WS_URL = (scriptUrl.protocol === "https:" ? "wss://" : "ws://") + scriptUrl.host + basePath + "/widget/ws";

  // ---------------------------------------------------------------- small helpers
  function sget(k) {
    try { return window.localStorage.getItem(k); } catch (e) { return null; }
  }
  function sset(k, v) {
    try {
      if (v === null || v === undefined) window.localStorage.removeItem(k);
      else window.localStorage.setItem(k, v);
    } catch (e) { /* storage disabled: keep working in memory */ }
  }
  function parseObject(text) {
    if (!text) return null;
    try {
      var v = JSON.parse(text);
      return v && typeof v === "object" && !Array.isArray(v) ? v : null;
    } catch (e) { return null; }
  }
  function clean(s, max) {
    if (typeof s !== "string") return null;
    s = s.trim();
    return s ? s.slice(0, max || 200) : null;
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function isInt(n) { return typeof n === "number" && isFinite(n) && Math.floor(n) === n; }
  var RANK = { failed: -1, sending: 0, sent: 1, delivered: 2 };

  // ---------------------------------------------------------------- config from the tag
  var ds = (script && script.dataset) || {};
  var cfg = {
    locale: clean(ds.locale, 35),
    name: clean(ds.name),
    email: clean(ds.email, 320),
    attributes: parseObject(ds.attributes),
    color: clean(ds.color, 64),
    theme: /^(light|dark|auto)$/.test(ds.theme || "") ? ds.theme : "light",
  };

  // ---------------------------------------------------------------- state
  var S = {
    strings: Object.assign({}, DEFAULT_STRINGS),
    hasServerStrings: {},
    locale: "en",
    dir: "ltr",
    languages: [],
    booted: false,
    active: false, // we want a connection (panel opened once, or an existing session / outbox)
    open: false,
    ws: null,
    ready: false, // welcome received on the current socket
    conn: "idle",
    everConnected: false,
    attempt: 0,
    retryTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    rateTimer: 0, // a message refused as rate_limited is sent again when this fires
    notice: null, // key of the string shown above the composer, or null
    transcriptBusy: false, // a transcript frame was asked for and has not arrived yet
    choosing: null, // a pressed choice waiting for "chosen" or an error: {id, choice, refocus}
    session: sget(K_SESSION),
    byId: {}, // id -> message
    pending: loadOutbox(), // own messages without an id yet: {client_id,text,created_at,attachments,files,failed?}
    chips: [], // files chosen for the next message: {key,file,name,size,type,state,reason,upload,loaded,xhr}
    dragDepth: 0, // dragenter minus dragleave over the panel (they fire for every child crossed)
    inflight: [], // client_ids sent on this socket and not yet acked, oldest first
    readUpTo: parseInt(sget(K_READ) || "0", 10) || 0,
    rows: {}, // row key -> element
    atBottom: true,
    fresh: {}, // row keys to animate when first rendered
  };

  function resolvedTheme() {
    if (cfg.theme !== "auto") return cfg.theme;
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return dark ? "dark" : "light";
  }

  function loadOutbox() {
    var raw = sget(K_OUTBOX);
    if (!raw) return [];
    try {
      var arr = JSON.parse(raw);
      if (!Array.isArray(arr)) return [];
      return arr.filter(function (m) {
        return m && typeof m.client_id === "string" && typeof m.text === "string" && (m.text || validIds(m.attachments));
      }).map(function (m) {
        var ids = validIds(m.attachments) ? m.attachments : [];
        return { client_id: m.client_id, text: m.text.slice(0, MAX_LEN), created_at: m.created_at || new Date().toISOString(),
                 attachments: ids, files: ids.length ? validFiles(m.files) : [] };
      });
    } catch (e) { return []; }
  }
  function saveOutbox() {
    var keep = S.pending.filter(function (m) { return !m.failed; }).map(function (m) {
      return { client_id: m.client_id, text: m.text, created_at: m.created_at, attachments: m.attachments, files: m.files };
    });
    sset(K_OUTBOX, keep.length ? JSON.stringify(keep) : null);
  }
  function validIds(ids) {
    return Array.isArray(ids) && ids.length > 0 && ids.length <= MAX_FILES && ids.every(function (x) { return typeof x === "string" && x; });
  }
  function validFiles(list) { // what a message shows of its files: name, type, size (never where they are)
    if (!Array.isArray(list)) return [];
    return list.filter(function (f) {
      return f && typeof f.name === "string" && typeof f.media_type === "string" && isInt(f.size);
    }).slice(0, MAX_FILES).map(function (f) { return { name: f.name, media_type: f.media_type, size: f.size }; });
  }
  function maxId() {
    var best = 0;
    for (var k in S.byId) if (S.byId[k].id > best) best = S.byId[k].id;
    return best;
  }

  // ---------------------------------------------------------------- DOM building
  var SVGNS = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: { fill: "M12 3C6.9 3 3 6.6 3 11c0 2.3 1 4.3 2.7 5.8-.2 1.4-.8 2.7-1.8 3.8a.6.6 0 0 0 .5 1c2-.1 3.9-.8 5.4-2 .7.2 1.4.2 2.2.2 5.1 0 9-3.6 9-8s-3.9-8.8-9-8.8z" },
    chevron: { stroke: "M6 9l6 6 6-6" },
    close: { stroke: "M6 6l12 12M18 6L6 18" },
    send: { fill: "M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a1 1 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z" },
    clock: { stroke: "M12 7.5V12l3 2", circle: 8.5 },
    check: { stroke: "M5 12.5l4.5 4.5L19 7.5" },
    checks: { stroke: "M1.5 12.5L6 17l9.5-9.5M11 16.5l.5.5L21 7.5" },
    alert: { stroke: "M12 7.5v5.5M12 16.5v.01", circle: 9 },
    globe: { stroke: "M3.5 12h17M12 3.2c2.4 2.4 3.6 5.4 3.6 8.8s-1.2 6.4-3.6 8.8M12 3.2C9.6 5.6 8.4 8.6 8.4 12s1.2 6.4 3.6 8.8", circle: 8.8 },
    team: { stroke: "M16 20v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 18.5V20M10 11.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM20 20v-1.5a3.5 3.5 0 0 0-2.6-3.4M15.5 4.6a3.5 3.5 0 0 1 0 6.8" },
    down: { stroke: "M12 5v14M6 13l6 6 6-6" },
    download: { stroke: "M12 4v11M7 10.5l5 5 5-5M5 20h14" },
    clip: { stroke: "M20.5 11.3l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9" },
  };
  function icon(name, cls) {
    var spec = ICONS[name];
    var svg = document.createElementNS(SVGNS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "sb-icon" + (cls ? " " + cls : ""));
    if (spec.circle) {
      var c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("cx", "12"); c.setAttribute("cy", "12"); c.setAttribute("r", String(spec.circle));
      c.setAttribute("fill", "none"); c.setAttribute("stroke", "currentColor"); c.setAttribute("stroke-width", "2");
      svg.appendChild(c);
    }
    var p = document.createElementNS(SVGNS, "path");
    if (spec.fill) {
      p.setAttribute("d", spec.fill); p.setAttribute("fill", "currentColor");
    } else {
      p.setAttribute("d", spec.stroke); p.setAttribute("fill", "none"); p.setAttribute("stroke", "currentColor");
      p.setAttribute("stroke-width", "2"); p.setAttribute("stroke-linecap", "round"); p.setAttribute("stroke-linejoin", "round");
    }
    svg.appendChild(p);
    return svg;
  }
  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === "text") n.textContent = attrs[k];
        else if (k === "class") n.className = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) n.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
      }
    }
    if (kids) kids.forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }

  var host, shadow, ui = {};

  function buildDom() {
    host = el("div", { id: "switchboard-widget", "data-version": VERSION });
    shadow = host.attachShadow({ mode: "open" });

    var link = el("link", { rel: "stylesheet", href: BASE + "/widget.css" + scriptUrl.search });
    ui.root = el("div", { class: "sb-root", hidden: true, "data-conn": "idle", "data-theme": resolvedTheme() });
    if (cfg.theme === "auto" && window.matchMedia) {
      // "auto" follows the OS setting, live; the stylesheet only knows light and dark
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
        ui.root.setAttribute("data-theme", resolvedTheme());
      });
    }
    var reveal = function () { ui.root.hidden = false; };
    link.addEventListener("load", reveal);
    link.addEventListener("error", reveal);

    ui.title = el("h2", { class: "sb-title", id: "sb-title" });
    ui.statusText = el("span", { class: "sb-status-text" });
    ui.status = el("p", { class: "sb-status", role: "status" }, [el("span", { class: "sb-dot", "aria-hidden": "true" }), ui.statusText]);
    ui.langLabel = el("span", { class: "sb-sr", id: "sb-lang-label" });
    ui.langSelect = el("select", { class: "sb-lang-select", "aria-labelledby": "sb-lang-label" });
    ui.langCode = el("span", { class: "sb-lang-code", "aria-hidden": "true" });
    ui.lang = el("label", { class: "sb-lang", hidden: true }, [ui.langLabel, icon("globe", "sb-lang-globe"), ui.langCode, icon("chevron", "sb-lang-caret"), ui.langSelect]);
    ui.saveBtn = el("button", { type: "button", class: "sb-save", hidden: true }, [icon("download")]);
    ui.closeBtn = el("button", { type: "button", class: "sb-close" }, [icon("close")]);
    var header = el("div", { class: "sb-header" }, [
      el("div", { class: "sb-team", "aria-hidden": "true" }, [icon("team")]),
      el("div", { class: "sb-head-text" }, [ui.title, ui.status]),
      ui.lang,
      ui.saveBtn,
      ui.closeBtn,
    ]);

    ui.greetName = el("div", { class: "sb-author" });
    ui.greetText = el("div", { class: "sb-bubble" });
    ui.greeting = el("div", { class: "sb-row sb-other sb-first sb-last sb-greeting" }, [
      el("div", { class: "sb-av sb-av-team", "aria-hidden": "true" }, [icon("team")]),
      el("div", { class: "sb-body" }, [ui.greetName, ui.greetText]),
    ]);
    ui.list = el("div", { class: "sb-list", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
    ui.list.appendChild(ui.greeting);
    ui.jump = el("button", { type: "button", class: "sb-jump", hidden: true }, [icon("down"), el("span")]);
    ui.jumpText = ui.jump.lastChild;

    ui.input = el("textarea", { class: "sb-input", rows: "1", maxlength: String(MAX_LEN), enterkeyhint: "send", autocomplete: "off" });
    ui.counter = el("span", { class: "sb-counter", hidden: true, "aria-live": "polite" });
    ui.sendBtn = el("button", { type: "submit", class: "sb-send", disabled: true }, [icon("send")]);
    ui.attachBtn = el("button", { type: "button", class: "sb-attach" }, [icon("clip")]);
    // the chooser itself stays out of sight and out of the tab order: the attach button opens it
    ui.fileInput = el("input", { type: "file", class: "sb-file-input", multiple: true, tabindex: "-1", "aria-hidden": "true",
                                 accept: Object.keys(FILE_TYPES).concat(Object.keys(FILE_EXTENSIONS).map(function (x) { return "." + x; })).join(",") });
    ui.form = el("form", { class: "sb-composer", novalidate: true }, [
      ui.attachBtn,
      ui.fileInput,
      el("div", { class: "sb-field" }, [ui.input, ui.counter]),
      ui.sendBtn,
    ]);
    ui.chips = el("ul", { class: "sb-chips", hidden: true }); // files chosen for the next message
    ui.dropText = el("span");
    ui.drop = el("div", { class: "sb-drop", hidden: true, "aria-hidden": "true" }, [icon("clip"), ui.dropText]);

    // a live region kept in the panel while empty, so what is put in it later is announced
    ui.notice = el("div", { class: "sb-notice", role: "status", "aria-live": "polite" });
    ui.fileStatus = el("div", { class: "sb-sr", role: "status", "aria-live": "polite" }); // a refused file, read out

    ui.panel = el("div", { class: "sb-panel", id: "sb-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "sb-title", dir: "ltr" }, [
      header,
      el("div", { class: "sb-main" }, [ui.list, ui.jump]),
      ui.notice,
      ui.fileStatus,
      ui.chips,
      ui.form,
      ui.drop,
    ]);
    ui.badge = el("span", { class: "sb-badge", hidden: true, "aria-hidden": "true" });
    ui.launcher = el("button", { type: "button", class: "sb-launcher", "aria-expanded": "false", "aria-controls": "sb-panel", "aria-haspopup": "dialog" }, [
      icon("chat", "sb-ico-open"), icon("chevron", "sb-ico-close"), ui.badge,
    ]);
    ui.root.appendChild(ui.panel);
    ui.root.appendChild(ui.launcher);
    shadow.appendChild(link);
    shadow.appendChild(ui.root);
    applyColor();

    ui.launcher.addEventListener("click", function () { if (S.open) close(); else open(); });
    ui.closeBtn.addEventListener("click", function () { close(); });
    ui.saveBtn.addEventListener("click", function () { requestTranscript(true); });
    ui.root.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && S.open && !e.defaultPrevented) { e.preventDefault(); close(); ui.launcher.focus(); }
    });
    ui.form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submit();
      }
    });
    ui.input.addEventListener("input", onInput);
    ui.input.addEventListener("paste", onPaste);
    ui.attachBtn.addEventListener("click", function () { ui.fileInput.click(); });
    ui.fileInput.addEventListener("change", function () {
      addFiles(ui.fileInput.files);
      ui.fileInput.value = ""; // the same file can be chosen again after it was removed
    });
    ui.panel.addEventListener("dragenter", onDrag);
    ui.panel.addEventListener("dragover", onDrag);
    ui.panel.addEventListener("dragleave", onDragLeave);
    ui.panel.addEventListener("drop", onDrop);
    ui.langSelect.addEventListener("change", function () { setLocale(ui.langSelect.value); });
    ui.list.addEventListener("scroll", function () {
      S.atBottom = nearBottom();
      if (S.atBottom) hideJump();
    });
    // keep the newest message in view when the composer grows or the on-screen keyboard shrinks the panel
    if (window.ResizeObserver) new ResizeObserver(function () { if (S.atBottom) scrollToBottom(); }).observe(ui.list);
    ui.jump.addEventListener("click", function () { scrollToBottom(); hideJump(); ui.input.focus(); });

    document.body.appendChild(host);
  }

  function applyColor() {
    if (!cfg.color || !(window.CSS && CSS.supports && CSS.supports("color", cfg.color))) return;
    ui.root.style.setProperty("--sb-brand", cfg.color);
    // pick readable text on the brand colour
    var probe = el("span");
    probe.style.color = cfg.color;
    ui.root.appendChild(probe);
    var m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(getComputedStyle(probe).color);
    ui.root.removeChild(probe);
    if (!m) return;
    var lin = function (v) { v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    var L = 0.2126 * lin(+m[1]) + 0.7152 * lin(+m[2]) + 0.0722 * lin(+m[3]);
    // contrast with white vs. with near-black
    ui.root.style.setProperty("--sb-on-brand", 1.05 / (L + 0.05) >= (L + 0.05) / 0.0565 ? "#fff" : "#111318");
  }

  // ---------------------------------------------------------------- strings / locale
  function preferences() {
    var out = [];
    var add = function (c) {
      c = typeof c === "string" ? c.trim() : "";
      if (c && c.length <= 35 && /^[A-Za-z0-9-_]+$/.test(c) && out.indexOf(c) < 0) out.push(c);
    };
    add(sget(K_LOCALE));
    add(cfg.locale);
    (navigator.languages || [navigator.language]).forEach(add);
    if (!out.length) out.push("en");
    return out;
  }

  function loadStrings() {
    var prefs = preferences();
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) ctrl.abort(); }, I18N_TIMEOUT_MS);
    var url = BASE + "/widget/i18n?lang=" + prefs.map(encodeURIComponent).join(",");
    return fetch(url, { credentials: "omit", signal: ctrl ? ctrl.signal : undefined, headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("i18n " + r.status); return r.json(); })
      .then(function (data) {
        var strings = Object.assign({}, DEFAULT_STRINGS);
        var got = {};
        var src = (data && data.strings) || {};
        for (var k in src) {
          if (typeof src[k] === "string" && src[k]) { strings[k] = src[k]; got[k] = 1; }
        }
        S.strings = strings;
        S.hasServerStrings = got;
        S.locale = typeof data.locale === "string" && data.locale ? data.locale : prefs[0];
        S.dir = data.dir === "rtl" ? "rtl" : "ltr";
        S.languages = Array.isArray(data.languages) ? data.languages.filter(function (l) {
          return l && typeof l.code === "string" && typeof l.name === "string";
        }) : [];
      })
      .catch(function () {
        S.strings = Object.assign({}, DEFAULT_STRINGS);
        S.hasServerStrings = {};
        S.locale = prefs[0];
        S.dir = /^(ar|fa|he|iw|ur|ps|sd|ug|yi|dv|ckb)(-|_|$)/i.test(prefs[0]) ? "rtl" : "ltr";
      })
      .then(function () { clearTimeout(timer); });
  }

  function t(key) { return S.strings[key] || DEFAULT_STRINGS[key] || ""; }
  function optional(key) {
    // an optional string in English is fine for English UIs; elsewhere only show it when translated
    if (S.hasServerStrings[key] || /^en\b/i.test(S.locale)) return t(key);
    return "";
  }

  var fmt = {};
  function makeFormatters() {
    var loc = S.locale;
    var mk = function (opts) {
      try { return new Intl.DateTimeFormat(loc, opts); } catch (e) { return new Intl.DateTimeFormat(undefined, opts); }
    };
    fmt.time = mk({ hour: "numeric", minute: "2-digit" });
    fmt.full = mk({ dateStyle: "full", timeStyle: "short" });
    fmt.day = mk({ weekday: "long", day: "numeric", month: "long" });
    fmt.dayYear = mk({ day: "numeric", month: "long", year: "numeric" });
    try { fmt.rel = new Intl.RelativeTimeFormat(loc, { numeric: "auto" }); } catch (e) { fmt.rel = null; }
    fmt.size = {};
    ["byte", "kilobyte", "megabyte"].forEach(function (unit) {
      // "49 bytes", "14 kB", "3.5 MB" (the short byte is "byte" in English, whatever the number)
      var opts = { style: "unit", unit: unit, unitDisplay: unit === "byte" ? "long" : "short", maximumFractionDigits: unit === "megabyte" ? 1 : 0 };
      try { fmt.size[unit] = new Intl.NumberFormat(loc, opts); } catch (e) { fmt.size[unit] = new Intl.NumberFormat(undefined, opts); }
    });
    try { fmt.percent = new Intl.NumberFormat(loc, { style: "percent" }); } catch (e) { fmt.percent = new Intl.NumberFormat(undefined, { style: "percent" }); }
  }
  // a file's size in the visitor's language (1 kB = 1024 bytes, as in the bridge's 40 MB cap)
  function formatSize(bytes) {
    if (bytes < 1024) return fmt.size.byte.format(bytes);
    if (bytes < 1024 * 1024) return fmt.size.kilobyte.format(Math.round(bytes / 1024));
    return fmt.size.megabyte.format(bytes / 1048576);
  }

  function applyStrings() {
    makeFormatters();
    ui.panel.setAttribute("dir", S.dir);
    ui.panel.setAttribute("lang", S.locale);
    ui.title.textContent = t("title");
    ui.langLabel.textContent = t("language");
    ui.lang.title = t("language");
    ui.saveBtn.setAttribute("aria-label", t("transcript"));
    ui.saveBtn.title = t("transcript");
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.closeBtn.title = t("close");
    ui.input.placeholder = t("placeholder");
    ui.input.setAttribute("aria-label", t("placeholder"));
    ui.sendBtn.setAttribute("aria-label", t("send"));
    ui.sendBtn.title = t("send");
    ui.attachBtn.setAttribute("aria-label", t("attach"));
    ui.attachBtn.title = t("attach");
    ui.chips.setAttribute("aria-label", t("files"));
    ui.dropText.textContent = t("drop_files");
    renderChips();
    ui.list.setAttribute("aria-label", t("title"));
    ui.jumpText.textContent = t("new_messages");
    ui.greetName.textContent = t("support_team");
    var greet = optional("greeting");
    ui.greetText.textContent = greet;
    ui.greeting.hidden = !greet;
    renderNotice();

    // language picker
    while (ui.langSelect.firstChild) ui.langSelect.removeChild(ui.langSelect.firstChild);
    var current = null;
    S.languages.forEach(function (l) {
      var o = el("option", { value: l.code, text: l.name, lang: l.code });
      if (sameLang(l.code, S.locale)) current = l.code;
      ui.langSelect.appendChild(o);
    });
    if (current) ui.langSelect.value = current;
    ui.langCode.textContent = String(current || S.locale).split(/[-_]/)[0].toUpperCase();
    ui.lang.hidden = S.languages.length < 2;

    updateStatus();
    updateBadge();
    // rebuild rows so timestamps and labels use the new locale
    S.rows = {};
    renderList(false);
  }
  function sameLang(a, b) { return String(a).toLowerCase().replace("_", "-") === String(b).toLowerCase().replace("_", "-"); }

  // ---------------------------------------------------------------- message list rendering
  function ordered() {
    var ids = Object.keys(S.byId).map(Number).sort(function (a, b) { return a - b; });
    var out = ids.map(function (id) { return S.byId[id]; });
    S.pending.forEach(function (p) {
      out.push({ id: null, author: "customer", author_name: null, text: p.text, files: p.files, created_at: p.created_at,
                 status: p.failed ? "failed" : "sending", client_id: p.client_id });
    });
    return out;
  }
  function rowKey(m) { return m.client_id ? "c:" + m.client_id : "m:" + m.id; }
  function stateOf(m) {
    if (m.status === "failed") return "failed";
    if (m.id === null) return "sending";
    return m.status === "delivered" ? "delivered" : "sent";
  }
  function authorLabel(m) {
    if (m.author === "customer") return t("you");
    if (m.author_name) return m.author_name;
    return m.author === "agent" ? t("agent") : t("support_team");
  }
  function dateOf(m) {
    var d = new Date(m.created_at);
    return isNaN(d.getTime()) ? null : d;
  }
  function dayKey(d) { return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate(); }
  function dayLabel(d) {
    var now = new Date();
    var a = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    var b = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    var diff = Math.round((a - b) / 86400000);
    if (fmt.rel && (diff === 0 || diff === -1)) {
      var s = fmt.rel.format(diff, "day");
      return s.charAt(0).toLocaleUpperCase(S.locale) + s.slice(1);
    }
    return (d.getFullYear() === now.getFullYear() ? fmt.day : fmt.dayYear).format(d);
  }
  function initials(name) {
    var parts = String(name).trim().split(/\s+/).filter(Boolean);
    var s = parts.length > 1 ? parts[0].charAt(0) + parts[parts.length - 1].charAt(0) : (parts[0] || "?").slice(0, 2);
    return s.toLocaleUpperCase(S.locale);
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function fillText(node, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      var raw = m[0];
      // trailing punctuation is usually not part of the link; keep ")" when it closes a "(" inside the URL
      var trimmed = raw.replace(/[.,;:!?'"]+$/, "");
      while (/\)$/.test(trimmed) && (trimmed.match(/\)/g) || []).length > (trimmed.match(/\(/g) || []).length) {
        trimmed = trimmed.slice(0, -1).replace(/[.,;:!?'"]+$/, "");
      }
      var parsed = null;
      try { parsed = new URL(trimmed); } catch (e) { parsed = null; }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) continue;
      if (m.index > last) node.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = document.createElement("a");
      a.href = parsed.href;
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      a.textContent = trimmed;
      node.appendChild(a);
      last = m.index + trimmed.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function buildRow(m) {
    var kind = m.author === "customer" ? "own" : m.author === "system" ? "system" : "other";
    var row = el("div", { class: "sb-row sb-" + kind });
    var bubble = el("div", { class: kind === "system" ? "sb-system-text" : "sb-bubble" });
    var d = dateOf(m);
    if (d) bubble.title = fmt.full.format(d);
    bubble.appendChild(el("span", { class: "sb-sr", text: authorLabel(m) + ": " }));
    var body = el("span", { class: "sb-text" });
    fillText(body, m.text);
    bubble.appendChild(body);
    if (m.files && m.files.length) bubble.appendChild(buildFiles(m.files));
    if (m.choices) row._choices = buildChoices(m);
    if (kind === "system") {
      row.appendChild(bubble);
      if (row._choices) { row.classList.add("sb-has-choices"); row.appendChild(row._choices); }
      return row;
    }
    var content = el("div", { class: "sb-body" });
    if (kind === "other") {
      var name = authorLabel(m);
      row.appendChild(el("div", { class: "sb-av", "aria-hidden": "true", text: initials(name) }));
      content.appendChild(el("div", { class: "sb-author", "aria-hidden": "true", text: name }));
    }
    content.appendChild(bubble);
    if (row._choices) content.appendChild(row._choices);
    row._meta = el("div", { class: "sb-meta", "aria-live": "off" });
    content.appendChild(row._meta);
    row.appendChild(content);
    return row;
  }

  function buildFiles(files) { // 📎 name · size, a button: POST /widget/file (no URL holds the file or the session)
    var list = el("ul", { class: "sb-files" });
    files.forEach(function (f, index) {
      var button = el("button", { type: "button", class: "sb-file", "aria-label": t("download_file") + " " + f.name }, [
        icon("clip"),
        el("span", { class: "sb-file-name", dir: "auto", text: f.name }),
        el("span", { class: "sb-file-size", text: formatSize(f.size) }),
        icon("download", "sb-file-get"),
      ]);
      button.addEventListener("click", function () { downloadFile(button, index, f.name); });
      list.appendChild(el("li", {}, [button]));
    });
    return list;
  }
  function downloadFile(button, index, name) {
    var row = button.closest(".sb-row");
    var id = row ? Number(row.getAttribute("data-id")) : 0; // no id yet: the message is still being sent
    if (!id || !S.session || button.getAttribute("aria-busy")) return;
    button.setAttribute("aria-busy", "true");
    fetch(BASE + "/widget/file", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "X-Switchboard-Session": S.session },
      body: JSON.stringify({ message_id: id, index: index }),
    })
      .then(function (r) { if (!r.ok) throw new Error("file " + r.status); return r.blob(); })
      .then(function (blob) {
        saveBlob(blob, name);
        if (S.notice === "download_failed") setNotice(null);
      })
      .catch(function () { setNotice("download_failed"); })
      .then(function () { button.removeAttribute("aria-busy"); });
  }

  function updateRow(row, m, first, last, isLastOwn, isNewest) {
    var own = m.author === "customer";
    var state = own ? stateOf(m) : "";
    if (m.id !== null) row.setAttribute("data-id", String(m.id)); else row.removeAttribute("data-id");
    if (m.client_id) row.setAttribute("data-client-id", m.client_id);
    if (own) row.setAttribute("data-state", state);
    row.classList.toggle("sb-first", first);
    row.classList.toggle("sb-last", last);
    if (row._choices) updateChoices(row._choices, m, isNewest);
    if (!row._meta) return;
    var showMeta = last || state === "sending" || state === "failed";
    var showLabel = own && (isLastOwn || state === "sending" || state === "failed");
    var sig = [showMeta, showLabel, state].join("|");
    if (row._sig === sig) return;
    row._sig = sig;
    var meta = row._meta;
    while (meta.firstChild) meta.removeChild(meta.firstChild);
    meta.hidden = !showMeta;
    if (!showMeta) return;
    var d = dateOf(m);
    if (d) meta.appendChild(el("time", { datetime: d.toISOString(), text: fmt.time.format(d) }));
    if (own) {
      var ic = { sending: "clock", sent: "check", delivered: "checks", failed: "alert" }[state];
      var label = state === "failed" ? (optional("failed") || "!") : t(state);
      var st = el("span", { class: "sb-state sb-state-" + state }, [icon(ic)]);
      st.appendChild(el("span", { class: showLabel ? "sb-state-text" : "sb-sr", text: label }));
      meta.appendChild(st);
    }
  }

  function renderList(stick) {
    if (!ui.list) return;
    var wasNear = nearBottom();
    var msgs = ordered();
    var nodes = [ui.greeting];
    var seen = {};
    var lastOwnIdx = -1;
    for (var i = msgs.length - 1; i >= 0; i--) if (msgs[i].author === "customer") { lastOwnIdx = i; break; }
    var prevDay = null;
    var added = false;
    msgs.forEach(function (m, i) {
      var d = dateOf(m);
      if (d) {
        var dk = dayKey(d);
        if (dk !== prevDay) {
          var dkey = "d:" + dk;
          var sep = S.rows[dkey];
          if (!sep) {
            sep = S.rows[dkey] = el("div", { class: "sb-day", role: "separator" }, [el("span", { text: dayLabel(d) })]);
          }
          nodes.push(sep);
          seen[dkey] = 1;
          prevDay = dk;
        }
      }
      var key = rowKey(m);
      var row = S.rows[key];
      if (!row || row._author !== m.author) {
        if (!row) added = true;
        row = S.rows[key] = buildRow(m);
        row._author = m.author;
        if (S.fresh[key]) row.classList.add("sb-anim");
      }
      delete S.fresh[key];
      seen[key] = 1;
      var prev = msgs[i - 1], next = msgs[i + 1];
      var first = !prev || !sameGroup(prev, m);
      var last = !next || !sameGroup(m, next);
      updateRow(row, m, first, last, i === lastOwnIdx, i === msgs.length - 1);
      nodes.push(row);
    });
    // reconcile with minimal DOM moves (moves would make screen readers re-announce)
    var list = ui.list;
    for (var j = 0; j < nodes.length; j++) {
      if (list.children[j] !== nodes[j]) list.insertBefore(nodes[j], list.children[j] || null);
    }
    while (list.children.length > nodes.length) list.removeChild(list.lastChild);
    for (var k in S.rows) if (!seen[k]) delete S.rows[k];

    if (stick || wasNear) scrollToBottom();
    else if (S.open && added) showJump();
    ui.saveBtn.hidden = !maxId();
  }
  function sameGroup(a, b) {
    if (a.author === "system" || b.author === "system") return false;
    if (a.author !== b.author || (a.author_name || "") !== (b.author_name || "")) return false;
    var da = dateOf(a), db = dateOf(b);
    if (!da || !db) return true;
    return db - da < GROUP_GAP_MS && dayKey(da) === dayKey(db);
  }
  function nearBottom() {
    var l = ui.list;
    return !l || l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }
  function scrollToBottom() { ui.list.scrollTop = ui.list.scrollHeight; }
  function showJump() { ui.jump.hidden = false; }
  function hideJump() { ui.jump.hidden = true; }

  // ---------------------------------------------------------------- unread badge
  function unreadCount() {
    var n = 0;
    for (var k in S.byId) {
      var m = S.byId[k];
      if (m.id > S.readUpTo && m.author !== "customer") n++;
    }
    return n;
  }
  function markRead() {
    if (!S.open || document.visibilityState === "hidden") return;
    var top = maxId();
    if (top > S.readUpTo) {
      S.readUpTo = top;
      sset(K_READ, String(top));
    }
    updateBadge();
  }
  function updateBadge() {
    if (!ui.badge) return;
    var n = S.open ? 0 : unreadCount();
    ui.badge.hidden = n === 0;
    ui.badge.textContent = n > 9 ? "9+" : String(n);
    ui.launcher.setAttribute("aria-label", S.open ? t("close") : n ? t("open") + " (" + n + " " + t("new_messages") + ")" : t("open"));
    ui.launcher.title = S.open ? t("close") : t("open");
  }

  // ---------------------------------------------------------------- connection status
  function setConn(c) {
    S.conn = c;
    updateStatus();
  }
  function updateStatus() {
    if (!ui.root) return;
    var c = S.conn;
    if (c === "idle") c = "online"; // nothing attempted yet: do not alarm the visitor
    if (navigator.onLine === false) c = "offline";
    ui.root.setAttribute("data-conn", c);
    ui.statusText.textContent = t(c);
    ui.saveBtn.disabled = !S.ready;
  }

  // ---------------------------------------------------------------- websocket
  function connect() {
    S.active = true;
    if (!S.booted || S.ws) return;
    clearTimeout(S.retryTimer);
    S.retryTimer = 0;
    setConn(S.everConnected ? "reconnecting" : "connecting");
    var sock;
    try { sock = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    S.ws = sock;
    sock.addEventListener("open", function () {
      if (sock !== S.ws) return;
      sendHello();
    });
    sock.addEventListener("message", function (ev) {
      if (sock !== S.ws) return;
      clearTimeout(S.pongTimer);
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === "object") handleFrame(f);
    });
    sock.addEventListener("close", function () {
      if (sock !== S.ws) return;
      lostSocket();
      scheduleReconnect();
    });
    sock.addEventListener("error", function () { /* a close event follows */ });
  }
  function lostSocket() {
    S.ws = null;
    S.ready = false;
    S.inflight = [];
    transcriptDone();
    S.choosing = null; // a press without an answer: the history after reconnecting tells whether it counted
    clearInterval(S.pingTimer);
    clearTimeout(S.pongTimer);
    setConn(navigator.onLine === false ? "offline" : S.everConnected ? "reconnecting" : "connecting");
  }
  function dropSocket() {
    var s = S.ws;
    if (!s) return;
    lostSocket();
    try { s.close(1000); } catch (e) { /* already closing */ }
  }
  function scheduleReconnect() {
    if (!S.active || S.retryTimer) return;
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, S.attempt));
    S.attempt = Math.min(S.attempt + 1, 10);
    delay = delay / 2 + Math.random() * delay / 2; // jitter: 50-100 % of the step
    S.retryTimer = setTimeout(function () { S.retryTimer = 0; connect(); }, delay);
  }
  function reconnectNow() {
    // used when the network comes back, the tab becomes visible, or the hello must change
    dropSocket();
    clearTimeout(S.retryTimer);
    S.retryTimer = 0;
    S.attempt = 0;
    connect();
  }
  function send(frame) {
    if (!S.ws || S.ws.readyState !== 1) return false;
    try { S.ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }
  function pageUrl() {
    try {
      var u = new URL(location.href);
      u.hash = "";
      return u.href.slice(0, 2000);
    } catch (e) { return null; }
  }
  function sendHello() {
    var hello = {
      type: "hello", session: S.session || null, last_seen: maxId(), locale: S.locale, languages: preferences(),
      ack_batches: true,
    };
    if (cfg.name) hello.name = cfg.name;
    if (cfg.email) hello.email = cfg.email;
    if (cfg.attributes) hello.attributes = cfg.attributes;
    var pu = pageUrl();
    if (pu) hello.page_url = pu;
    send(hello);
  }
  function probe() {
    // any frame clears the timer; silence means a half-dead socket
    if (!send({ type: "ping" })) return;
    clearTimeout(S.pongTimer);
    S.pongTimer = setTimeout(function () { reconnectNow(); }, PONG_TIMEOUT_MS);
  }
  function startPing() {
    clearInterval(S.pingTimer);
    S.pingTimer = setInterval(probe, PING_MS);
  }

  function validMsg(m) {
    return m && isInt(m.id) && typeof m.text === "string" && typeof m.author === "string";
  }
  function upsert(m, animate) {
    if (!validMsg(m)) return false;
    var cur = S.byId[m.id];
    var created = false;
    if (cur) {
      if ((RANK[m.status] || 0) > (RANK[cur.status] || 0)) cur.status = m.status;
    } else {
      var files = validFiles(m.attachments);
      S.byId[m.id] = {
        id: m.id,
        author: m.author,
        author_name: typeof m.author_name === "string" ? m.author_name : null,
        text: m.text,
        files: files,
        created_at: m.created_at || new Date().toISOString(),
        status: m.status === "delivered" ? "delivered" : "sent",
        client_id: typeof m.client_id === "string" && m.author === "customer" ? m.client_id : null,
        choices: validChoices(m.choices),
      };
      created = true;
      if (animate) S.fresh[rowKey(S.byId[m.id])] = 1;
    }
    if (m.author === "customer" && m.client_id) resolvePending(m.client_id);
    return created;
  }
  function resolvePending(clientId) {
    var before = S.pending.length;
    S.pending = S.pending.filter(function (p) { return p.client_id !== clientId; });
    if (S.pending.length !== before) saveOutbox();
    S.inflight = S.inflight.filter(function (c) { return c !== clientId; });
  }

  function acknowledge(f) {
    if (!f || typeof f.client_id !== "string" || !isInt(f.id)) return;
    var p = null;
    S.pending.forEach(function (x) { if (x.client_id === f.client_id) p = x; });
    if (!S.byId[f.id] && p) {
      S.byId[f.id] = {
        id: f.id, author: "customer", author_name: null,
        text: p.text, files: p.files, created_at: p.created_at,
        status: f.status === "delivered" ? "delivered" : "sent", client_id: f.client_id,
      };
    }
    resolvePending(f.client_id);
    if (!S.rateTimer) setNotice(null); // acknowledged after the retry: sending works again
  }

  function handleFrame(f) {
    switch (f.type) {
      case "welcome": {
        if (typeof f.session === "string" && f.session) {
          S.session = f.session;
          sset(K_SESSION, f.session);
        }
        S.ready = true;
        S.everConnected = true;
        S.attempt = 0;
        setConn("online");
        (Array.isArray(f.messages) ? f.messages : []).forEach(function (m) { upsert(m, false); });
        renderList(false);
        flushOutbox();
        startUploads();
        startPing();
        updateBadge();
        markRead();
        break;
      }
      case "ack":
        acknowledge(f);
        renderList(false);
        markRead();
        break;
      case "acks": // several messages committed together (we said ack_batches in the hello)
        (Array.isArray(f.acks) ? f.acks : []).forEach(acknowledge);
        renderList(false);
        markRead();
        break;
      case "status": {
        var m = isInt(f.id) && S.byId[f.id];
        if (m && (RANK[f.status] || 0) > (RANK[m.status] || 0)) {
          m.status = f.status;
          renderList(false);
        }
        break;
      }
      case "message": {
        if (upsert(f.message, true)) {
          renderList(false);
          updateBadge();
          markRead();
        }
        break;
      }
      case "transcript":
        saveTranscript(f);
        break;
      case "chosen":
        chosen(f);
        break;
      case "error":
        handleError(f.code, typeof f.client_id === "string" ? f.client_id : null);
        break;
      default:
        break; // pong and unknown frames
    }
  }

  // ``cid``: the refused message's client_id (the bridge names it); null for a frame that was not a message
  function handleError(code, cid) {
    if (code === "bad_choice" || code === "stale_choice") { choiceSettled(); renderList(false); return; }
    if (code === "bad_time_zone") { transcriptDone(); requestTranscript(false); return; } // the server's zone then
    if (code === "no_conversation" || code === "not_found") { transcriptDone(); return; }
    if (code === "bad_session") {
      // the token is unknown or expired: forget it and the conversation shown with it
      var had = !!S.session;
      S.session = null;
      sset(K_SESSION, null);
      S.byId = {};
      S.rows = {};
      S.readUpTo = 0;
      sset(K_READ, null);
      forgetUploads();
      renderList(false);
      updateBadge();
      if (had) reconnectNow();
      else { dropSocket(); scheduleReconnect(); } // never spin on a misbehaving server
      return;
    }
    if (code === "not_authenticated") { dropSocket(); scheduleReconnect(); return; }
    if (!cid) {
      // not a message: a press or a transcript request refused (e.g. rate_limited), which settles it
      if (S.choosing) { choiceSettled(); renderList(false); }
      if (S.transcriptBusy) transcriptDone();
      return;
    }
    if (code === "too_long" || code === "bad_frame" || code === "rate_limited") {
      var at = S.inflight.indexOf(cid);
      if (at < 0) return; // not one this page is waiting for
      S.inflight.splice(at, 1);
      if (code === "rate_limited") {
        setNotice("rate_limited"); // the message stays "sending": say why, until one is acknowledged again
        clearTimeout(S.rateTimer);
        S.rateTimer = setTimeout(retryLimited, 3000 + Math.random() * 2000);
        return;
      }
      S.pending.forEach(function (p) { if (p.client_id === cid) p.failed = true; });
      saveOutbox();
      renderList(false);
    }
  }

  function retryLimited() {
    S.rateTimer = 0;
    // everything was acknowledged meanwhile (e.g. resent after a reconnect): no ack is coming to clear the notice
    if (!S.pending.some(function (p) { return !p.failed; })) setNotice(null);
    flushOutbox(); // the refused messages (taken off `inflight` by name) go again
  }

  // ---------------------------------------------------------------- notice above the composer
  function setNotice(key) {
    if (S.notice === key) return; // unchanged: not announced again at every refused retry
    S.notice = key;
    renderNotice();
  }
  function renderNotice() {
    var box = ui.notice;
    while (box.firstChild) box.removeChild(box.firstChild);
    if (S.notice) box.appendChild(el("p", { class: "sb-notice-text" }, [icon("clock"), el("span", { text: t(S.notice) })]));
  }

  // ---------------------------------------------------------------- choices (buttons under a message)
  // Quick-reply style: only the newest message shows its buttons, until one is pressed; the press becomes the
  // visitor's own message ("chosen"). Refused or stale presses just settle the question.
  function validChoices(list) {
    if (!Array.isArray(list)) return null;
    var ok = list.filter(function (c) {
      return c && typeof c.id === "string" && typeof c.label === "string" && c.label;
    }).slice(0, 10);
    return ok.length ? ok : null;
  }
  function buildChoices(m) {
    var group = el("div", { class: "sb-choices", role: "group", "aria-label": m.text.slice(0, 200) });
    m.choices.forEach(function (c) {
      var button = el("button", { type: "button", class: "sb-choice", "data-choice": c.id, text: c.label });
      button.addEventListener("click", function () { choose(m, c); });
      group.appendChild(button);
    });
    return group;
  }
  function updateChoices(group, m, isNewest) {
    group.hidden = !isNewest || !!m.answered;
    var busy = S.choosing && S.choosing.id === m.id;
    Array.prototype.forEach.call(group.children, function (button) {
      button.disabled = !!S.choosing || !S.ready;
      button.classList.toggle("sb-picked", !!busy && S.choosing.choice === button.getAttribute("data-choice"));
    });
  }
  function choose(m, c) {
    if (S.choosing || m.answered || !S.ready) return;
    if (!send({ type: "choose", message_id: m.id, choice: c.id })) return;
    var active = shadow.activeElement;
    S.choosing = { id: m.id, choice: c.id, refocus: !!(active && active.classList.contains("sb-choice")) };
    renderList(true);
  }
  function choiceSettled() {
    var pressed = S.choosing;
    S.choosing = null;
    if (!pressed) return;
    if (S.byId[pressed.id]) S.byId[pressed.id].answered = true;
    if (pressed.refocus) ui.input.focus({ preventScroll: true }); // the buttons are gone: back to writing
  }
  function chosen(f) {
    var asked = isInt(f.message_id) ? S.byId[f.message_id] : null;
    if (asked) asked.answered = true;
    var picked = asked && asked.choices && asked.choices.filter(function (c) { return c.id === f.choice; })[0];
    if (picked && isInt(f.id) && !S.byId[f.id]) {
      S.byId[f.id] = {
        id: f.id, author: "customer", author_name: null, text: picked.label,
        created_at: new Date().toISOString(), status: "sent", client_id: null,
      };
      S.fresh["m:" + f.id] = 1;
    }
    if (S.choosing && S.choosing.id === f.message_id) choiceSettled();
    renderList(true);
    markRead();
  }

  // ---------------------------------------------------------------- transcript download
  // Asked over the socket (the session token never goes in a URL), saved from a Blob.
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }
  function requestTranscript(withZone) {
    if (!S.ready || S.transcriptBusy) return;
    var frame = { type: "transcript" };
    var zone = withZone ? browserZone() : null;
    if (zone) frame.time_zone = zone;
    if (!send(frame)) return;
    S.transcriptBusy = true;
    ui.saveBtn.setAttribute("aria-busy", "true");
  }
  function transcriptDone() {
    S.transcriptBusy = false;
    if (ui.saveBtn) ui.saveBtn.removeAttribute("aria-busy");
  }
  function saveTranscript(f) {
    transcriptDone();
    if (typeof f.text !== "string") return;
    var name = typeof f.filename === "string" && /^[\w.-]{1,80}$/.test(f.filename) ? f.filename : "transcript.txt";
    saveBlob(new Blob([f.text], { type: "text/plain;charset=utf-8" }), name);
  }
  function saveBlob(blob, name) { // a download from memory: an <a download> clicked, its URL revoked after
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: name, hidden: true });
    ui.root.appendChild(a);
    a.click();
    ui.root.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function flushOutbox() {
    if (!S.ready) return;
    S.pending.forEach(function (p) {
      if (p.failed || S.inflight.indexOf(p.client_id) >= 0) return;
      var frame = { type: "message", client_id: p.client_id, text: p.text };
      if (p.attachments.length) frame.attachments = p.attachments; // kept in the outbox: a resend carries them
      if (send(frame)) S.inflight.push(p.client_id);
    });
  }

  // ---------------------------------------------------------------- composer
  function onInput() {
    var v = ui.input.value;
    updateSend();
    autoGrow();
    if (v.length > MAX_LEN - 500) {
      ui.counter.hidden = false;
      ui.counter.textContent = v.length + " / " + MAX_LEN;
    } else {
      ui.counter.hidden = true;
    }
  }
  function autoGrow() {
    var ta = ui.input;
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight, 140) + "px";
    ta.style.overflowY = ta.scrollHeight > 140 ? "auto" : "hidden";
  }
  function updateSend() {
    var busy = uploadsBusy();
    ui.sendBtn.disabled = busy || (!ui.input.value.trim() && !readyChips().length); // ids only once uploaded
    ui.form.classList.toggle("sb-busy", busy);
  }
  function submit() {
    var text = ui.input.value.replace(/^\s+|\s+$/g, "");
    var files = readyChips();
    if (uploadsBusy() || (!text && !files.length)) return;
    if (text.length > MAX_LEN) text = text.slice(0, MAX_LEN);
    var p = {
      client_id: newClientId(), text: text, created_at: new Date().toISOString(),
      attachments: files.map(function (c) { return c.upload; }),
      files: files.map(function (c) { return { name: c.name, media_type: c.type, size: c.size }; }),
    };
    S.chips = []; // sent, or refused and already explained on their chips
    renderChips();
    S.pending.push(p);
    S.fresh["c:" + p.client_id] = 1;
    saveOutbox();
    ui.input.value = "";
    onInput();
    renderList(true);
    hideJump();
    if (S.ready) flushOutbox();
    else connect();
  }

  // ---------------------------------------------------------------- attachments (files for the next message)
  // Each file is uploaded as soon as it is chosen (POST /widget/upload, the session in a header, never in the
  // URL), one at a time; Send then names the upload ids. Size and type are checked here first for a quick answer,
  // but the bridge decides: its refusal is shown on the file's chip in the visitor's language.
  var REFUSALS = { file_too_large: "file_too_large", unsupported_type: "file_type", empty_file: "file_empty", rate_limited: "upload_rate_limited", quota_exceeded: "upload_quota" };
  function readyChips() { return S.chips.filter(function (c) { return c.state === "ready"; }); }
  function uploadsBusy() { return S.chips.some(function (c) { return c.state === "waiting" || c.state === "uploading"; }); }
  function fileType(file) {
    var type = String(file.type || "").toLowerCase();
    if (type) return lookup(FILE_TYPES, type) ? type : null;
    var ext = /\.([^.]+)$/.exec(file.name || ""); // no type from the browser: go by the extension
    return ext ? lookup(FILE_EXTENSIONS, ext[1].toLowerCase()) : null;
  }
  function lookup(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : null; } // not "constructor"
  function addFiles(list) {
    Array.prototype.forEach.call(list || [], function (file) {
      var c = { key: newClientId(), file: file, name: file.name || "file", size: file.size, type: fileType(file),
                state: "waiting", reason: null, upload: null, loaded: 0, xhr: null };
      var kept = S.chips.filter(function (x) { return x.state !== "failed"; }).length;
      if (kept >= MAX_FILES) refuse(c, "too_many_files");
      else if (!c.type) refuse(c, "file_type");
      else if (c.size > MAX_FILE_BYTES) refuse(c, "file_too_large");
      else if (!c.size) refuse(c, "file_empty");
      S.chips.push(c);
    });
    renderChips();
    startUploads();
  }
  function refuse(c, reason) {
    c.state = "failed";
    c.reason = reason;
    ui.fileStatus.textContent = c.name + ": " + t(reason);
  }
  function removeChip(c) {
    var refocus = c.el && c.el.contains(shadow.activeElement);
    if (c.xhr) { var xhr = c.xhr; c.xhr = null; xhr.abort(); }
    S.chips = S.chips.filter(function (x) { return x !== c; });
    renderChips();
    if (refocus) ui.input.focus({ preventScroll: true });
    startUploads();
  }
  function forgetUploads() {
    // the session is gone, and with it the uploads made under it: they can no longer be sent
    S.chips.forEach(function (c) {
      if (c.state !== "ready" && c.state !== "uploading") return;
      if (c.xhr) { var xhr = c.xhr; c.xhr = null; xhr.abort(); }
      refuse(c, "upload_failed");
    });
    renderChips();
  }
  function startUploads() {
    if (S.chips.some(function (c) { return c.state === "uploading"; })) return;
    var next = S.chips.filter(function (c) { return c.state === "waiting"; })[0];
    if (!next) return;
    if (!S.ready || !S.session) { connect(); return; } // an upload needs the session: the welcome starts it
    var xhr = new XMLHttpRequest(); // not fetch: XHR reports upload progress
    next.state = "uploading";
    next.xhr = xhr;
    xhr.open("POST", BASE + "/widget/upload");
    xhr.setRequestHeader("X-Switchboard-Session", S.session);
    xhr.setRequestHeader("Content-Type", next.type);
    xhr.setRequestHeader("X-Filename", encodeURIComponent(next.name));
    xhr.upload.addEventListener("progress", function (e) {
      if (next.xhr !== xhr || !e.lengthComputable) return;
      next.loaded = e.loaded;
      updateChip(next);
    });
    xhr.addEventListener("load", function () { uploaded(next, xhr, parseObject(xhr.responseText)); });
    xhr.addEventListener("error", function () { uploaded(next, xhr, null); });
    xhr.send(next.file);
    renderChips();
  }
  function uploaded(c, xhr, body) {
    if (c.xhr !== xhr) return; // removed (or the session dropped) meanwhile
    c.xhr = null;
    if (xhr.status === 201 && body && typeof body.upload === "string" && body.upload) {
      c.state = "ready";
      c.upload = body.upload;
      if (typeof body.name === "string" && body.name) c.name = body.name; // the label the bridge keeps
      if (isInt(body.size)) c.size = body.size;
      if (typeof body.media_type === "string") c.type = body.media_type;
    } else {
      refuse(c, (body && lookup(REFUSALS, body.error)) || (xhr.status === 413 ? "file_too_large" : "upload_failed"));
    }
    renderChips();
    startUploads();
  }
  function renderChips() {
    var list = ui.chips;
    if (!list) return;
    S.chips.forEach(function (c, i) {
      if (!c.el) c.el = buildChip(c);
      updateChip(c);
      if (list.children[i] !== c.el) list.insertBefore(c.el, list.children[i] || null);
    });
    while (list.children.length > S.chips.length) list.removeChild(list.lastChild);
    list.hidden = !S.chips.length;
    updateSend();
  }
  function buildChip(c) {
    // "Remove file", then the file's name (aria-describedby): no string built from pieces in one language
    var remove = el("button", { type: "button", class: "sb-chip-remove", "aria-describedby": "sb-chip-" + c.key }, [icon("close")]);
    remove.addEventListener("click", function () { removeChip(c); });
    c.nameEl = el("span", { class: "sb-chip-name", dir: "auto", id: "sb-chip-" + c.key });
    c.infoEl = el("span", { class: "sb-chip-info" });
    c.barEl = el("span", { class: "sb-chip-bar", "aria-hidden": "true" }, [el("span")]);
    c.removeEl = remove;
    return el("li", { class: "sb-chip" }, [
      icon("clip", "sb-chip-clip"),
      icon("alert", "sb-chip-alert"),
      el("span", { class: "sb-chip-text" }, [c.nameEl, c.infoEl]),
      remove,
      c.barEl,
    ]);
  }
  function updateChip(c) {
    var li = c.el;
    if (!li) return;
    li.setAttribute("data-state", c.state);
    li.setAttribute("aria-busy", c.state === "waiting" || c.state === "uploading" ? "true" : "false");
    c.nameEl.textContent = c.name;
    c.nameEl.title = c.name;
    c.removeEl.setAttribute("aria-label", t("remove_file"));
    c.removeEl.title = t("remove_file");
    var share = c.state === "uploading" && c.size ? Math.min(1, c.loaded / c.size) : 0;
    c.barEl.firstChild.style.width = Math.round(share * 100) + "%";
    if (c.state === "failed") c.infoEl.textContent = t(c.reason);
    else if (c.state === "ready") c.infoEl.textContent = formatSize(c.size);
    else c.infoEl.textContent = t("uploading") + (share ? " " + fmt.percent.format(share) : "");
  }
  function hasFiles(e) {
    var types = e.dataTransfer && e.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }
  function onDrag(e) {
    if (!hasFiles(e)) return;
    e.preventDefault(); // lets the panel take the drop
    e.dataTransfer.dropEffect = "copy";
    if (e.type === "dragenter") S.dragDepth++;
    ui.drop.hidden = false;
  }
  function onDragLeave(e) {
    if (!hasFiles(e)) return;
    S.dragDepth = Math.max(0, S.dragDepth - 1);
    if (!S.dragDepth) ui.drop.hidden = true;
  }
  function onDrop(e) {
    if (!hasFiles(e)) return;
    e.preventDefault(); // else the browser opens the file in place of the host page
    S.dragDepth = 0;
    ui.drop.hidden = true;
    addFiles(e.dataTransfer.files);
  }
  function onPaste(e) {
    var data = e.clipboardData;
    if (!data || !data.files || !data.files.length) return;
    addFiles(data.files);
    if (!data.getData("text/plain")) e.preventDefault(); // a pasted picture, not its file name as text
  }

  // ---------------------------------------------------------------- open / close / public API
  function open() {
    if (!ui.root) { S.openOnBoot = true; return; }
    S.open = true;
    ui.root.classList.add("sb-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    updateBadge();
    renderList(true);
    markRead();
    connect();
    var coarse = window.matchMedia && matchMedia("(pointer: coarse)").matches;
    setTimeout(function () { (coarse ? ui.closeBtn : ui.input).focus({ preventScroll: true }); }, 30);
  }
  function close() {
    if (!ui.root) return;
    var hadFocus = shadow.activeElement && ui.panel.contains(shadow.activeElement);
    S.open = false;
    ui.root.classList.remove("sb-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    hideJump();
    updateBadge();
    if (hadFocus) ui.launcher.focus();
  }
  function setLocale(code) {
    code = clean(code, 35);
    if (!code) return;
    sset(K_LOCALE, code);
    if (!S.booted) return;
    loadStrings().then(function () {
      applyStrings();
      if (S.active) reconnectNow(); // new hello carries the new locale
    });
  }
  function identify(info) {
    info = info || {};
    if ("name" in info) cfg.name = clean(info.name);
    if ("email" in info) cfg.email = clean(info.email, 320);
    if ("attributes" in info) cfg.attributes = info.attributes && typeof info.attributes === "object" ? info.attributes : null;
    if (S.ws) reconnectNow(); // hello is the only frame that carries visitor details
  }

  // ---------------------------------------------------------------- boot
  function boot() {
    buildDom();
    applyStrings();
    if (S.openOnBoot) open();
    if (S.session || S.pending.length) S.active = true;
    loadStrings().then(function () {
      applyStrings();
      S.booted = true;
      if (S.active) connect();
    });
    window.addEventListener("online", function () {
      updateStatus();
      if (S.active && (!S.ws || !S.ready)) reconnectNow();
      else if (S.ws) probe();
    });
    window.addEventListener("offline", function () { updateStatus(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "visible") return;
      markRead();
      if (S.active && S.booted && (!S.ws || S.ws.readyState > 1)) reconnectNow();
    });
  }

  window.Switchboard = {
    version: VERSION,
    open: function () { open(); },
    close: function () { close(); },
    toggle: function () { if (S.open) close(); else open(); },
    setLocale: function (code) { setLocale(code); },
    identify: function (info) { identify(info); },
  };

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
