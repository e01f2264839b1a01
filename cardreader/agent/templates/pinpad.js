"use strict";
(() => {
  // The PIN is only ever the value of the masked #secret field: the keys add to it, #count says how many
  // characters it holds (never which), and it is emptied when sent.
  const $ = (id) => document.getElementById(id);
  const d = $("pad").dataset, ja = document.documentElement.lang === "ja", secret = $("secret");
  const screens = ["idle", "working", "remove", "confirm", "pin"];
  // No shorter limit for a 4-digit PIN: a 5th digit makes the agent refuse the format (no try spent) rather than
  // sending the first four.
  const LONGEST = 16;
  let current = null, shown = null;
  const words = (o, key) => (ja ? o[key + "_ja"] : o[key]);
  function show(id, said) {
    for (const x of screens) $(x).hidden = x !== id;
    if (shown !== id + said) { shown = id + said; $("status").textContent = said; }
  }
  function counted() {
    const n = secret.value.length;
    $("count").textContent = n ? d.count.replace("{n}", String(n)) : "";
  }
  function type(character) {
    if (secret.value.length < LONGEST) { secret.value += character; }
    $("error").hidden = true; counted();
  }
  function erase(all) { secret.value = all ? "" : secret.value.slice(0, -1); counted(); }
  async function send(body) {
    const answer = await fetch("/pinpad/answer", {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(body)});
    return answer.ok ? null : (await answer.json());
  }
  function open(state) {
    current = state.prompt;
    const headline = words(state, "headline");
    if (state.mode === "confirm") {
      $("confirm-headline").textContent = headline;
      show("confirm", headline + " " + d.lastTry);
      $("confirm-no").focus();  // the safe answer has the focus: a stray Enter does not spend the last try
      return;
    }
    const sign = state.key === "sign";
    $("pin-headline").textContent = headline; $("issuer").textContent = state.issuer;
    $("secret-label").textContent = sign ? $("pin").dataset.signingPassword : $("pin").dataset.pin;
    const list = $("document-list"); list.replaceChildren();
    for (const doc of state.documents || []) {
      const item = document.createElement("li"), label = document.createElement("strong"),
            digest = document.createElement("code");
      label.className = "label"; label.textContent = doc.label;
      digest.className = "digest"; digest.textContent = doc.algorithm + ": " + doc.digest;
      item.append(label, document.createElement("br"), digest); list.append(item);
    }
    $("documents").hidden = !(state.documents || []).length;
    $("letters").hidden = !sign;
    if (!d.kiosk) { secret.inputMode = sign ? "text" : "numeric"; }
    $("tries").textContent = String(state.tries_left); $("error").hidden = true; erase(true);
    show("pin", headline + " " + d.tries.replace("{n}", String(state.tries_left)));
    secret.focus();
  }
  function idle(state) {
    current = null;
    if (state.reader === "remove_card") {
      const error = state.error ? ": " + words(state.error, "message") : "";
      $("outcome").textContent = state.step === "done" ? d.done : d.ended + error;
      show("remove", $("outcome").textContent + " " + d.remove);
    } else if (state.reader === "busy" && state.step !== "waiting_for_card") {
      show("working", d.working);
    } else {
      /* why the last login stopped before its PIN (the provider's precheck), until the next prompt */
      const why = state.notice ? words(state.notice, "message") : d.idle;
      const text = d.kiosk || state.step === "waiting_for_card" ? d.start : why;
      $("idle-text").textContent = text; show("idle", text);
    }
  }
  async function poll() {
    try {
      const state = await (await fetch("/pinpad/state", {cache: "no-store"})).json();
      if (state.prompt === null) { idle(state); } else if (state.prompt !== current) { open(state); }
    } catch (e) { /* the agent restarted: keep polling */ }
    setTimeout(poll, 300);
  }
  $("pin").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-key], button[data-action]");
    if (!button) { return; }
    if (button.dataset.key) { type(button.dataset.key); } else { erase(button.dataset.action === "clear"); }
  });
  secret.addEventListener("input", counted);
  document.addEventListener("keydown", (event) => {  // a keyboard works wherever the focus is on the PIN screen
    if ($("pin").hidden || event.target === secret || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (/^[0-9A-Za-z]$/.test(event.key)) { type(event.key.toUpperCase()); }
    else if (event.key === "Backspace") { erase(false); }
    else if (event.key === "Enter" && event.target.closest("button[data-key], button[data-action]")) {
      $("pin").requestSubmit();
    } else { return; }
    event.preventDefault();
  });
  $("confirm").addEventListener("submit", async (event) => {
    event.preventDefault(); await send({prompt: current, confirm: true});
  });
  $("confirm-no").addEventListener("click", () => send({prompt: current, confirm: false}));
  $("pin-cancel").addEventListener("click", () => send({prompt: current, cancel: true}));
  $("pin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = secret.value; erase(true);
    const error = await send({prompt: current, pin: value});
    if (error) { $("error").textContent = words(error, "message"); $("error").hidden = false; }
  });
  poll();
})();
