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
  async function pollAgent(id) {
    try {
      const view = await (await agent("/v1/login/" + id)).json();
      if (view.state === "failed") { fail(view.error); return; }
      if (STEPS[view.state]) { step(STEPS[view.state]); }
      if (view.state === "done") {
        if (!d.status) { step(STEPS.other); }
        return;
      }
    } catch (e) { /* transient */ }
    setTimeout(() => pollAgent(id), 500);
  }
  async function pollProvider() {
    try {
      const status = await (await fetch(d.status, {credentials: "same-origin", cache: "no-store"})).json();
      if (status.state === "verified") { step(STEPS["done_" + status.token] || STEPS.done); $("finish").submit(); return; }
      if (status.state === "failed" && !viaAgent) { fail(status.error); }  /* the agent reports its own */
    } catch (e) { /* transient */ }
    setTimeout(pollProvider, 1000);
  }
  async function start() {
    let ticket = null;
    if (d.token) { ticket = {token: d.token}; }
    else if (d.codeFromFragment) { ticket = {code: decodeURIComponent(location.hash.slice(1))}; }
    if (d.status) { pollProvider(); }
    if (!ticket) { return; }
    try { await (await agent("/v1/status")).json(); }
    catch (e) { $("no-agent").hidden = false; step(STEPS.none); return; }
    const answer = await agent("/v1/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(ticket)});
    const started = await answer.json();
    if (!answer.ok) { fail(started); return; }
    viaAgent = true;
    if (started.pinpad_url) { $("pinpad-link").href = started.pinpad_url; $("pinpad").hidden = false; }
    pollAgent(started.login);
    /* a closed or left page frees the reader unless the PIN was already given (the agent decides) */
    globalThis.addEventListener?.("pagehide", () => agent("/v1/login/" + started.login + "/cancel",
                                                          {method: "POST", keepalive: true}).catch(() => {}));
  }
  $("retry").addEventListener("click", () => location.reload());
  start();
})();
