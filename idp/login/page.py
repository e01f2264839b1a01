"""The card login pages (server-rendered) and their one small script.

* The login page (``GET /interaction/{uid}``): says what will be read from the card, finds the card agent on
  this machine and hands it the page's token; shows the cross-device code, its QR code and the command for a
  machine with a reader; polls the login's status and, once verified, posts the finish form.
* The device page (``GET /card-login/device#CODE``, the QR code's target): on the machine with the reader, hands
  the code to the local agent; the login then continues on the first device.

No PIN field exists on either page: the PIN is typed in the agent's terminal or in its own PIN pad page. The
script is served from the provider's origin (CSP ``script-src 'self'``) and talks only to the provider and to the
configured agent URL (``connect-src``).
"""

from __future__ import annotations

from html import escape
from typing import Final

import segno

from keys.x509.profile import Purpose

SCRIPT_PATH: Final = "/card-login/login.js"
DEVICE_PATH: Final = "/card-login/device"


def content_security_policy(agent_url: str) -> str:
    """The pages' CSP: our script only, connections to us and to the loopback agent, no framing."""
    return ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
            f"connect-src 'self' {agent_url}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


_STYLE = """<style>
body { font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
.step { font-size: 1.2rem; font-weight: bold; }
.error { color: #a00; }
code { font-size: 1.1rem; }
.code { font-size: 2rem; letter-spacing: .2rem; font-family: monospace; }
[hidden] { display: none; }
</style>"""


def _what_is_read(key: Purpose) -> str:
    if key is Purpose.SIGN:
        return ("<p>署名用電子証明書（署名用パスワード・英数字6〜16文字）を使います。"
                "証明書の氏名・住所・生年月日・性別は、"
                "次の画面であなたが同意した項目だけが提供先に渡されます。"
                "<br>This login uses your card's signing "
                "certificate (signing password, 6–16 letters and digits). Of the name, address, birth date and "
                "gender it holds, only the items you approve on the next page are given to the service.</p>")
    return ("<p>利用者証明用電子証明書（暗証番号・数字4桁）を使います。氏名などの個人情報は読み取りません。"
            "<br>This login uses your card's user-authentication certificate (4-digit PIN). No personal data is "
            "read.</p>")


def login_page(*, uid: str, issuer: str, client_name: str, key: Purpose, token: str, code: str, shown_code: str,
               agent_url: str) -> str:
    """The login page of interaction ``uid``."""
    device_url = f"{issuer}{DEVICE_PATH}#{code}"
    qr = segno.make(device_url, error="m").svg_inline(scale=4, title="QR code")
    command = f"python -m cardreader login --code {shown_code} --provider {issuer}"
    e = escape
    return f"""<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>マイナンバーカードでログイン / Log in with your My Number card</title>
{_STYLE}
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body>
<main id="card-login" data-agent="{e(agent_url)}" data-token="{e(token)}"
      data-status="/interaction/{e(uid)}/card/status">
<h1>マイナンバーカードでログイン<br>Log in with your My Number card</h1>
<p>ログイン先 / Service: <strong>{e(client_name)}</strong></p>
{_what_is_read(key)}
<p class="step" id="step">カードエージェントを探しています… / Looking for the card agent…</p>
<p class="error" id="error" hidden></p>
<p id="pinpad" hidden><a id="pinpad-link" href="#" target="pinpad" rel="noopener">暗証番号入力画面を開く /
Open the PIN pad</a></p>
<section id="no-agent" hidden>
<p>このパソコンでカードエージェントが見つかりません。カードリーダーのあるパソコンで
<code>python -m cardreader agent --provider {e(issuer)}</code> を起動してから、このページを再読み込みしてください。<br>
No card agent was found on this computer. Start it on the computer with the card reader, then reload this page.</p>
</section>
<section id="other-device">
<h2>別の端末で読み取る / Use another device</h2>
<p>カードリーダーのある端末でQRコードを読み取るか、次のコマンドを実行してください。<br>
On a device with a card reader, scan the QR code or run:</p>
<p><code>{e(command)}</code></p>
<p class="code">{e(shown_code)}</p>
{qr}
</section>
<form method="post" action="/interaction/{e(uid)}/card/finish" id="finish">
<button type="submit">続ける / Continue</button>
</form>
</main>
</body>
</html>
"""


def device_page(*, issuer: str, agent_url: str) -> str:
    """The cross-device page: the code comes from the URL fragment, which never reaches the server."""
    e = escape
    return f"""<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>マイナンバーカードの読み取り / Reading your My Number card</title>
{_STYLE}
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body>
<main id="card-login" data-agent="{e(agent_url)}" data-code-from-fragment="1">
<h1>マイナンバーカードの読み取り<br>Reading your My Number card</h1>
<p class="step" id="step">カードエージェントを探しています… / Looking for the card agent…</p>
<p class="error" id="error" hidden></p>
<p id="pinpad" hidden><a id="pinpad-link" href="#" target="pinpad" rel="noopener">暗証番号入力画面を開く /
Open the PIN pad</a></p>
<section id="no-agent" hidden>
<p>カードエージェントが見つかりません。<code>python -m cardreader agent --provider {e(issuer)}</code>
を起動してから再読み込みしてください。<br>No card agent was found. Start it, then reload this page.</p>
</section>
</main>
</body>
</html>
"""


SCRIPT: Final = """"use strict";
(() => {
  const root = document.getElementById("card-login");
  const d = root.dataset;
  const $ = (id) => document.getElementById(id);
  const STEPS = {
    fetching: ["ログインサービスに接続しています…", "Contacting the login service…"],
    waiting_for_card: ["マイナンバーカードをカードリーダーに置いてください", "Place your My Number card on the reader"],
    waiting_for_pin: ["カードエージェントで暗証番号を入力してください（このページには入力しません）",
                      "Enter your PIN in the card agent (never on this page)"],
    signing: ["カードを読み取っています…", "Reading the card…"],
    sending: ["確認しています…", "Checking…"],
    done: ["完了しました", "Done"],
  };
  const step = (pair) => { $("step").textContent = pair[0] + " / " + pair[1]; };
  const fail = (e) => { $("error").textContent = e.message_ja + " / " + e.message; $("error").hidden = false; };
  const agent = (path, init) => fetch(d.agent + path, Object.assign({mode: "cors", credentials: "omit",
                                                                     cache: "no-store"}, init || {}));
  async function pollAgent(id) {
    try {
      const view = await (await agent("/v1/login/" + id)).json();
      if (view.state === "failed") { fail(view.error); return; }
      if (STEPS[view.state]) { step(STEPS[view.state]); }
      if (view.state === "done") {
        if (!d.status) { step(["もう一方の端末で続けてください", "Continue on the other device"]); }
        return;
      }
    } catch (e) { /* transient */ }
    setTimeout(() => pollAgent(id), 500);
  }
  async function pollProvider() {
    try {
      const status = await (await fetch(d.status, {credentials: "same-origin", cache: "no-store"})).json();
      if (status.state === "verified") { $("finish").submit(); return; }
      if (status.state === "failed") { fail(status.error); }
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
    catch (e) { $("no-agent").hidden = false; step(["カードエージェントがありません", "No card agent"]); return; }
    const answer = await agent("/v1/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(ticket)});
    const started = await answer.json();
    if (!answer.ok) { fail(started); return; }
    if (started.pinpad_url) { $("pinpad-link").href = started.pinpad_url; $("pinpad").hidden = false; }
    pollAgent(started.login);
  }
  start();
})();
"""

__all__ = ["DEVICE_PATH", "SCRIPT", "SCRIPT_PATH", "content_security_policy", "device_page", "login_page"]
