// incidentbot playground: the page's small script. The server renders every part as
// HTML (escaped there); this script swaps parts in, tells the server what a person
// clicked or typed, and refreshes when the server says something changed (SSE).
"use strict";

const ui = { user: "U0ALICE", where: "C0GENERAL", thread: null, modalKey: "", busy: false, again: false, people: "" };
const $ = (id) => document.getElementById(id);

async function post(op, body) {
  const response = await fetch(`/ui/${op}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) toast(answer.error || `Request failed (${response.status})`);
  refresh();
  return answer;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
}

// Parts are updated in place (a small DOM morph) rather than replaced: a link or button
// someone is clicking, hovering or focusing stays the same element while things change.
function swap(element, html) {
  if (element.dataset.html === html) return false;
  element.dataset.html = html;
  const fresh = document.createElement("template");
  fresh.innerHTML = html;
  patch(element, fresh.content);
  return true;
}

function patch(old, fresh) {
  const before = [...old.childNodes], after = [...fresh.childNodes];
  after.forEach((node, i) => {
    const here = before[i];
    if (!here) old.appendChild(node);
    else if (here.nodeType !== node.nodeType || here.nodeName !== node.nodeName) old.replaceChild(node, here);
    else if (here.nodeType !== Node.ELEMENT_NODE) {
      if (here.nodeValue !== node.nodeValue) here.nodeValue = node.nodeValue;
    } else {
      for (const { name } of [...here.attributes]) if (!node.hasAttribute(name)) here.removeAttribute(name);
      for (const { name, value } of [...node.attributes]) if (here.getAttribute(name) !== value) here.setAttribute(name, value);
      patch(here, node);
    }
  });
  for (let i = before.length - 1; i >= after.length; i--) old.removeChild(before[i]);
}

// One refresh at a time; changes arriving meanwhile cause exactly one more.
async function refresh() {
  if (ui.busy) { ui.again = true; return; }
  ui.busy = true;
  try {
    do {
      ui.again = false;
      const asked = { user: ui.user, where: ui.where, thread: ui.thread || "" };
      const response = await fetch(`/ui/state?${new URLSearchParams(asked)}`);
      const state = response.ok ? await response.json() : null;
      // A person who switched channel or user meanwhile gets a fresh answer, not this one.
      const stale = asked.user !== ui.user || asked.where !== ui.where || asked.thread !== (ui.thread || "");
      if (stale) ui.again = true;
      else if (state) apply(state);
    } while (ui.again);
  } catch (error) {
    ui.again = false;
  } finally {
    ui.busy = false;
  }
}

function apply(state) {
  ui.where = state.where;
  people(state.people);
  swap($("sidebar"), state.sidebar);
  swap($("channel-header"), state.header || '<h1 id="main-title">incidentbot</h1>');
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (swap(list, state.messages) && atBottom) list.scrollTop = list.scrollHeight;
  swap($("home"), state.home);
  const inHome = state.where === "home";
  list.hidden = inHome;
  $("composer").hidden = inHome;
  $("thread").hidden = !ui.thread || inHome;
  swap($("thread-messages"), state.thread);
  $("fire-alert").hidden = !state.alerts;
  if (state.modal_key !== ui.modalKey) {
    ui.modalKey = state.modal_key;
    // The same view coming back (e.g. with inline errors) keeps what the person typed.
    const old = $("modal").querySelector("form[data-view]");
    const kept = old ? { view: old.dataset.view, values: formValues(old) } : null;
    $("modal").innerHTML = state.modal;
    const form = $("modal").querySelector("form[data-view]");
    if (form && kept && kept.view === form.dataset.view) restore(form, kept.values);
    const first = $("modal").querySelector("[aria-invalid=true], input, textarea, select, button");
    if (first) first.focus();
    else $("composer-text").focus();
  }
}

function people(list) {
  const key = JSON.stringify(list);
  if (ui.people === key) return;
  ui.people = key;
  const select = $("viewing-as");
  select.replaceChildren(...list.map(([id, name]) => {
    const option = new Option(name, id, false, id === ui.user);
    return option;
  }));
}

function go(where) {
  ui.where = where;
  ui.thread = null;
  if (where === "home") post("home", {});
  else refresh();
}

// ---------------------------------------------------------------- Block Kit

function container(element) {
  return element.closest("[data-container]");
}

function formValues(form) {
  const values = {};
  for (const field of form.querySelectorAll("[data-input]")) {
    const block = field.dataset.blockId, action = field.dataset.actionId;
    let value;
    if (field.matches("select[multiple]")) value = [...field.selectedOptions].map((o) => o.value);
    else if (field.matches("[role=group]")) {
      value = [...field.querySelectorAll("input:checked")].map((i) => i.value);
      if (field.dataset.type === "radio_buttons") value = value[0] || null;
    } else value = field.value;
    (values[block] ||= {})[action] = value;
  }
  return values;
}

function restore(form, values) {
  for (const field of form.querySelectorAll("[data-input]")) {
    const value = (values[field.dataset.blockId] || {})[field.dataset.actionId];
    if (value === undefined) continue;
    const chosen = new Set([].concat(value ?? []));
    if (field.matches("select[multiple]")) for (const o of field.options) o.selected = chosen.has(o.value);
    else if (field.matches("[role=group]")) for (const i of field.querySelectorAll("input")) i.checked = chosen.has(i.value);
    else field.value = value ?? "";
  }
}

function where(element) {
  const box = container(element);
  if (!box) return null;
  if (box.dataset.view !== undefined) {
    const form = box.closest("form");
    return { view_id: box.dataset.view, values: form ? formValues(form) : {} };
  }
  return { channel: box.dataset.channel, ts: box.dataset.ts, ephemeral: box.dataset.ephemeral === "1" };
}

function confirmed(element) {
  const data = element.dataset;
  if (!data.confirmTitle) return Promise.resolve(true);
  return new Promise((resolve) => {
    const node = $("confirm-template").content.firstElementChild.cloneNode(true);
    node.querySelector("#confirm-title").textContent = data.confirmTitle;
    node.querySelector(".confirm-text").textContent = data.confirmText || "";
    const yes = node.querySelector(".confirm-yes"), no = node.querySelector(".confirm-no");
    yes.textContent = data.confirmYes;
    no.textContent = data.confirmNo;
    const done = (answer) => { node.remove(); resolve(answer); };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    document.body.append(node);
    yes.focus();
  });
}

async function act(element, value) {
  const place = where(element);
  if (!place || !(await confirmed(element))) return;
  const data = element.dataset;
  await post("action", { ...place, action_id: data.actionId, block_id: data.blockId, value });
  if (data.url) window.open(data.url, "_blank", "noopener");
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button, a");
  if (!target) return;
  if (target.dataset.goto !== undefined) {
    event.preventDefault();
    go(target.dataset.goto);
  } else if (target.dataset.thread) {
    ui.thread = target.dataset.thread;
    refresh();
  } else if (target.dataset.shortcut) {
    const box = container(target);
    post("shortcut", { callback_id: target.dataset.shortcut, channel: box.dataset.channel, ts: box.dataset.ts });
  } else if (target.dataset.react) {
    const box = container(target);
    post("react", { name: target.dataset.react, channel: box.dataset.channel, ts: box.dataset.ts });
  } else if (target.dataset.closeView !== undefined) {
    post("close", { view_id: container(target).dataset.view });
  } else if (target.matches("button[data-action-id]")) {
    act(target, null);
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "viewing-as") {
    ui.user = target.value;
    ui.thread = null;
    ui.modalKey = "";
    if (ui.where === "home") post("home", {});
    else refresh();
  } else if (target.matches("select[data-action-id]:not([data-input])") && target.value) {
    act(target, target.value);
    if (target.matches(".bk-overflow")) target.selectedIndex = 0;  // a menu, not a choice
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  event.preventDefault();
  if (form.classList.contains("modal-form")) {
    // Like Slack's client: an empty required input is refused here; the bot validates the rest.
    const missing = [...form.querySelectorAll("[required]")].find((f) => !f.value);
    if (missing) { missing.setAttribute("aria-invalid", "true"); missing.focus(); toast("Please fill out this field."); return; }
    post("submit", { view_id: form.dataset.view, values: formValues(form) });
  } else if (form.id === "composer" || form.id === "thread-composer") {
    const box = form.querySelector("textarea");
    const text = box.value;
    if (!text.trim()) return;
    box.value = "";
    post("send", { channel: ui.where, text, thread_ts: form.id === "thread-composer" ? ui.thread : null });
  }
});

document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key === "Enter" && !event.shiftKey && box.matches(".composer textarea")) {
    event.preventDefault();
    box.form.requestSubmit();
  }
  if (event.key === "Escape" && $("modal").querySelector("[data-close-view]")) {
    $("modal").querySelector("[data-close-view]").click();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  $("close-thread").addEventListener("click", () => { ui.thread = null; refresh(); });
  $("fire-alert").addEventListener("click", async () => {
    const answer = await post("alert", {});
    if (answer.status) toast(`POST /alerts/demo → ${answer.status}`);
  });
  // Server-sent events: the server says "something changed"; the browser reconnects itself.
  new EventSource("/ui/events").onmessage = () => refresh();
  refresh();
});
