"use strict";
(() => {
  let current = null;
  const $ = (id) => document.getElementById(id);
  const show = (id) => { for (const x of ["idle", "notice", "confirm", "pin"]) $(x).hidden = x !== id; };
  async function send(body) {
    const answer = await fetch("/pinpad/answer", {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(body)});
    return answer.ok ? null : (await answer.json());
  }
  async function poll() {
    try {
      const state = await (await fetch("/pinpad/state", {cache: "no-store"})).json();
      if (state.prompt === null) {
        current = null;
        if (state.notice) { $("notice").textContent = state.notice.message_ja + " / " + state.notice.message;
                            show("notice"); } else { show("idle"); }
      } else if (state.prompt !== current) {
        current = state.prompt;
        const headline = state.headline_ja + " / " + state.headline;
        if (state.mode === "confirm") { $("confirm-headline").textContent = headline; show("confirm"); }
        else {
          $("pin-headline").textContent = headline; $("issuer").textContent = state.issuer;
          $("secret-label").textContent = state.key === "sign" ? $("pin").dataset.signingPassword
                                                               : $("pin").dataset.pin;
          const list = $("document-list"); list.replaceChildren();
          for (const doc of state.documents || []) {
            const item = document.createElement("li"), label = document.createElement("strong"),
                  digest = document.createElement("code");
            label.className = "label"; label.textContent = doc.label;
            digest.className = "digest"; digest.textContent = doc.algorithm + ": " + doc.digest;
            item.append(label, document.createElement("br"), digest); list.append(item);
          }
          $("documents").hidden = !(state.documents || []).length;
          $("tries").textContent = String(state.tries_left); $("error").hidden = true; $("secret").value = "";
          show("pin"); $("secret").focus();
        }
      }
    } catch (e) { /* the agent restarted: keep polling */ }
    setTimeout(poll, 500);
  }
  $("confirm").addEventListener("submit", async (event) => {
    event.preventDefault(); await send({prompt: current, confirm: true});
  });
  $("confirm-no").addEventListener("click", () => send({prompt: current, confirm: false}));
  $("pin-cancel").addEventListener("click", () => send({prompt: current, cancel: true}));
  $("pin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const secret = $("secret").value; $("secret").value = "";
    const error = await send({prompt: current, pin: secret});
    if (error) { $("error").textContent = error.message_ja + " / " + error.message; $("error").hidden = false; }
  });
  poll();
})();
