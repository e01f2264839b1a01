"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("code-form");
  const d = form.dataset;
  const say = (text) => { $("step").textContent = text; };
  const fail = (e) => { $("error").textContent = d.failed + ": " + e.message_ja + " / " + e.message;
                        $("error").hidden = false; $("pinpad").hidden = true; form.hidden = false; $("code").focus(); };
  async function poll(id, pinpad) {
    try {
      const view = await (await fetch("/code/login/" + id, {cache: "no-store"})).json();
      if (view.state === "failed") { fail(view.error); return; }
      if (view.state === "done") { say(d.done); $("pinpad").hidden = true; return; }
      if (view.state === "waiting_for_card") { say(d.waitingForCard); }
      if (view.state === "waiting_for_pin") { say(pinpad ? d.waitingForPin : d.terminal); }
    } catch (e) { /* transient */ }
    setTimeout(() => poll(id, pinpad), 500);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("error").hidden = true;
    const code = $("code").value.trim().toUpperCase();
    const answer = await fetch("/code/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                                body: JSON.stringify({code: code})});
    const started = await answer.json();
    if (!answer.ok) { fail(started); return; }
    form.hidden = true;
    say(d.started);
    if (started.pinpad_url) { $("pinpad").hidden = false; }
    poll(started.login, Boolean(started.pinpad_url));
  });
  /* RFC 8628 §3.3: a device's user code goes to the provider's verification page in this browser, which shows
     the device's name before anything happens; the card login then runs on this machine's reader */
  const device = $("device-form");
  device.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("device-code").value.trim().toUpperCase();
    location.assign(device.dataset.verification + "?user_code=" + encodeURIComponent(code));
  });
})();
