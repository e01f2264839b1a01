"use strict";
(() => {
  const root = document.getElementById("card-login");
  const d = root.dataset;
  const ja = document.documentElement.lang !== "en";
  const STEPS = {};  /* the page's words for the agent's states: data-step-waiting-for-card etc. */
  for (const [name, text] of Object.entries(d)) {
    if (name.startsWith("step")) { STEPS[name.slice(4).replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase())] = text; }
  }
  const $ = (id) => document.getElementById(id);
  const step = (text) => { $("step").textContent = text; };
  let viaAgent = false;
  let login = null;  /* the agent's login id, once started */
  const fail = (e) => {
    const text = d.errorPrefix + (ja ? e.message_ja : e.message);
    if ($("error").textContent === text && !$("error").hidden) { return; }
    $("error").textContent = text;
    $("error").hidden = false;
    $("retry-line").hidden = false;
    $("retry").focus();
  };
  const agent = (path, init) => fetch(d.agent + path, Object.assign({mode: "cors", credentials: "omit",
                                                                     cache: "no-store"}, init || {}));
  const cancelAgentLogin = () => {
    if (login) { agent("/v1/login/" + login + "/cancel", {method: "POST", keepalive: true}).catch(() => {}); }
  };

  /* A kiosk (its client marked by `idp counter kiosk`, data-kiosk, or the agent run with --kiosk): the page returns
     to its start when the card is taken out, and after data-kiosk-idle seconds without progress or input. Start:
     the interaction is cancelled (the client hears access_denied and shows its start) and, when configured,
     the browser goes to the kiosk's home page. Nothing of the login stays on screen meanwhile. */
  const kiosk = {on: d.kiosk === "1", idle: 1000 * (Number(d.kioskIdle) || 120), timer: 0, resetting: false,
                 finishing: false};
  function kioskReset() {
    if (kiosk.resetting || kiosk.finishing) { return; }
    kiosk.resetting = true;
    clearTimeout(kiosk.timer);
    root.hidden = true;
    cancelAgentLogin();
    if (d.kioskHome) {
      fetch($("abort").action, {method: "POST", credentials: "same-origin", redirect: "manual", keepalive: true})
        .catch(() => {}).finally(() => location.replace(d.kioskHome));
    } else {
      $("abort").submit();
    }
  }
  const awake = () => {
    if (!kiosk.on || kiosk.resetting || kiosk.finishing) { return; }
    clearTimeout(kiosk.timer);
    kiosk.timer = setTimeout(kioskReset, kiosk.idle);
  };
  const kioskMode = () => {
    kiosk.on = true;
    for (const name of ["pointerdown", "keydown", "touchstart"]) { document.addEventListener(name, awake, {passive: true}); }
    awake();
  };

  /* Follow a login's views: pushed by its event stream (server-sent events), or long polled where EventSource is
     missing or the stream fails before its first event (a proxy that forbids or holds back event streams).
     handle(view) answers true once nothing more is to come. */
  function follow(stream, poll, init, handle) {
    let over = false, last = null, polling = false;
    const take = (view) => { last = view; over = handle(view) || over; };
    async function longPoll() {
      if (polling) { return; }
      polling = true;
      while (!over && !kiosk.resetting) {
        try {
          const answer = await fetch(poll(last), init);
          const view = await answer.json();
          if (!answer.ok) { fail(view); return; }
          take(view);
        } catch (e) { await new Promise((resolve) => setTimeout(resolve, 1000)); }
      }
    }
    if (typeof EventSource !== "function") { longPoll(); return; }
    const source = new EventSource(stream);
    let heard = false;
    const fallBack = () => { source.close(); if (!over) { longPoll(); } };
    const held = setTimeout(() => { if (!heard) { fallBack(); } }, 3000);  /* the first event comes at once */
    source.onmessage = (message) => {
      heard = true;
      clearTimeout(held);
      take(JSON.parse(message.data));
      if (over) { source.close(); }
    };
    source.onerror = () => { if (!heard || source.readyState === EventSource.CLOSED) { clearTimeout(held); fallBack(); } };
  }

  function onAgentView(view) {
    awake();
    if (kiosk.on && view.card_removed) { kioskReset(); return true; }
    if (view.state === "failed") { fail(view.error); }
    else if (view.state === "done" && !d.status) { step(STEPS.other); }
    else if (STEPS[view.state]) { step(STEPS[view.state]); }
    return (view.state === "done" || view.state === "failed") && !view.remove_card;
  }
  function onStatus(status) {
    if (status.state === "verified") {
      step(STEPS["done_" + status.token] || STEPS.done);
      kiosk.finishing = true;  /* the login goes on: no reset now (the consent page keeps its own limit) */
      clearTimeout(kiosk.timer);
      $("finish").submit();
      return true;
    }
    if (status.state === "failed" && !viaAgent) { fail(status.error); }  /* the agent reports its own */
    return false;  /* a failed login may still be answered again (the code, from another device) */
  }
  const same = {credentials: "same-origin", cache: "no-store"};
  const cors = {mode: "cors", credentials: "omit", cache: "no-store"};

  async function start() {
    let ticket = null;
    if (d.token) { ticket = {token: d.token}; }
    else if (d.codeFromFragment) { ticket = {code: decodeURIComponent(location.hash.slice(1))}; }
    if (d.kiosk === "1") { kioskMode(); }
    if (d.status) {
      follow(d.events, (last) => d.status + "?wait=25&state=" + (last ? last.state : "pending"), same, onStatus);
    }
    if (!ticket) { return; }
    let status;
    try { status = await (await agent("/v1/status")).json(); }
    catch (e) { $("no-agent").hidden = false; step(STEPS.none); return; }
    if (status.kiosk && !kiosk.on && d.status) { kioskMode(); }  /* the login page (the device page has no interaction) */
    const answer = await agent("/v1/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(ticket)});
    const started = await answer.json();
    if (!answer.ok) { fail(started); return; }
    viaAgent = true;
    login = started.login;
    if (started.pinpad_url) {  /* the pad speaks the page's language */
      const pad = new URL(started.pinpad_url);
      pad.searchParams.set("lang", ja ? "ja" : "en");
      $("pinpad-link").href = pad.href;
      $("pinpad").hidden = false;
    }
    const path = d.agent + "/v1/login/" + login;
    follow(path + "/events", (last) => path + "?wait=25&after=" + (last ? last.revision : -1), cors, onAgentView);
    /* a closed or left page frees the reader unless the PIN was already given (the agent decides) */
    globalThis.addEventListener?.("pagehide", cancelAgentLogin);
  }
  $("retry").addEventListener("click", () => location.reload());
  start();
})();
