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

from collections.abc import Sequence
from html import escape
from typing import Final

import segno

from keys.x509.profile import Purpose

SCRIPT_PATH: Final = "/card-login/login.js"
DEVICE_PATH: Final = "/card-login/device"


def content_security_policy(agent_url: str, form_action: Sequence[str] = ()) -> str:
    """The pages' CSP: our script only, connections to us and to the loopback agent, no framing; forms post to us
    (and may be redirected on to ``form_action``, the relying party's redirect URI)."""
    forms = " ".join(["'self'", *form_action])
    return ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
            f"connect-src 'self' {agent_url}; form-action {forms}; frame-ancestors 'none'; base-uri 'none'")


_STYLE = """<style>
body { font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5;
       color: #1a1a1a; }
.step { font-size: 1.2rem; font-weight: bold; }
.error { color: #a00; border-left: .3rem solid #a00; padding-left: .6rem; }
code { font-size: 1.1rem; }
.code { font-size: 2rem; letter-spacing: .2rem; font-family: monospace; }
button { font-size: 1rem; padding: .4rem 1rem; margin: .5rem .5rem 0 0; }
a { color: #1a4f9c; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
[hidden] { display: none; }
</style>"""

#: What the pages say, in Japanese and English, by key (the page picks one language: :func:`_say`).
TEXT: Final[dict[str, tuple[str, str]]] = {
    "title": ("マイナンバーカードでログイン", "Log in with your My Number card"),
    "device_title": ("マイナンバーカードの読み取り", "Reading your My Number card"),
    "service": ("ログイン先", "Service"),
    "read_sign": ("署名用電子証明書（署名用パスワード・英数字6〜16文字）を使います。"
                  "証明書の氏名・住所・生年月日・性別は、次の画面であなたが同意した項目だけが提供先に渡されます。",
                  "This login uses your card's signing certificate (signing password, 6–16 letters and digits). Of "
                  "the name, address, birth date and gender it holds, only the items you approve on the next page "
                  "are given to the service."),
    "read_auth": ("利用者証明用電子証明書（暗証番号・数字4桁）を使います。氏名などの個人情報は読み取りません。",
                  "This login uses your card's user-authentication certificate (4-digit PIN). No personal data is "
                  "read."),
    "this_device": ("このパソコンで読み取る", "Use the card reader of this computer"),
    "looking": ("カードエージェントを探しています…", "Looking for the card agent…"),
    "error": ("エラー", "Error"),
    "retry": ("もう一度試す", "Try again"),
    "pinpad": ("暗証番号入力画面を開く", "Open the PIN pad"),
    "no_agent": ("このパソコンでカードエージェントが見つかりません。"
                 "カードリーダーのあるパソコンで次のコマンドを起動してから、このページを再読み込みしてください。",
                 "No card agent was found on this computer. Start it on the computer with the card reader, then "
                 "reload this page:"),
    "other_device": ("別の端末で読み取る", "Use another device"),
    "other_how": ("カードリーダーのある端末でQRコードを読み取るか、次のコマンドを実行してください。",
                  "On a device with a card reader, scan the QR code or run:"),
    "code": ("コード", "Code"),
    "qr": ("カードを読み取る画面を開くQRコード", "QR code that opens the card reading page"),
    "continue": ("続ける", "Continue"),
    "cancel": ("ログインをやめる", "Cancel the login"),
}


def _say(lang: str, key: str) -> str:
    ja, en = TEXT[key]
    return ja if lang == "ja" else en


def _head(lang: str, title: str) -> str:
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
{_STYLE}
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body>
"""


def _progress(lang: str, issuer: str) -> str:
    """The live region of the login's progress, its error and retry, the PIN pad link, the no-agent notice."""
    e = escape
    return f"""<p class="step" id="step" role="status" aria-live="polite">{e(_say(lang, "looking"))}</p>
<p class="error" id="error" role="alert" hidden></p>
<p id="retry-line" hidden><button type="button" id="retry">{e(_say(lang, "retry"))}</button></p>
<p id="pinpad" hidden><a id="pinpad-link" href="#" target="pinpad" rel="noopener">{e(_say(lang, "pinpad"))}</a></p>
<div id="no-agent" hidden>
<p>{e(_say(lang, "no_agent"))}</p>
<p><code>python -m cardreader agent --provider {e(issuer)}</code></p>
</div>"""


def login_page(*, uid: str, issuer: str, client_name: str, key: Purpose, token: str, code: str, shown_code: str,
               agent_url: str, lang: str) -> str:
    """The login page of interaction ``uid``, in ``lang`` (``ja`` or ``en``)."""
    device_url = f"{issuer}{DEVICE_PATH}#{code}"
    qr = segno.make(device_url, error="m").svg_inline(scale=4, omitsize=False)
    command = f"python -m cardreader login --code {shown_code} --provider {issuer}"
    e = escape
    return _head(lang, _say(lang, "title")) + f"""<main id="card-login" data-agent="{e(agent_url)}"
      data-token="{e(token)}" data-key="{e(key.value)}" data-status="/interaction/{e(uid)}/card/status">
<h1>{e(_say(lang, "title"))}</h1>
<p>{e(_say(lang, "service"))}: <strong>{e(client_name)}</strong></p>
<p>{e(_say(lang, "read_sign" if key is Purpose.SIGN else "read_auth"))}</p>
<section aria-labelledby="this-device">
<h2 id="this-device">{e(_say(lang, "this_device"))}</h2>
{_progress(lang, issuer)}
</section>
<section aria-labelledby="other-device">
<h2 id="other-device">{e(_say(lang, "other_device"))}</h2>
<p>{e(_say(lang, "other_how"))}</p>
<p><code>{e(command)}</code></p>
<p>{e(_say(lang, "code"))}: <span class="code">{e(shown_code)}</span></p>
<div role="img" aria-label="{e(_say(lang, "qr"))}">{qr}</div>
</section>
<form method="post" action="/interaction/{e(uid)}/card/finish" id="finish">
<button type="submit">{e(_say(lang, "continue"))}</button>
</form>
<form method="post" action="/interaction/{e(uid)}/abort">
<button type="submit">{e(_say(lang, "cancel"))}</button>
</form>
</main>
</body>
</html>
"""


def device_page(*, issuer: str, agent_url: str, lang: str) -> str:
    """The cross-device page: the code comes from the URL fragment, which never reaches the server."""
    e = escape
    return _head(lang, _say(lang, "device_title")) + f"""<main id="card-login" data-agent="{e(agent_url)}"
      data-code-from-fragment="1">
<h1>{e(_say(lang, "device_title"))}</h1>
{_progress(lang, issuer)}
</main>
</body>
</html>
"""


SCRIPT: Final = """"use strict";
(() => {
  const root = document.getElementById("card-login");
  const d = root.dataset;
  const ja = document.documentElement.lang !== "en";
  const $ = (id) => document.getElementById(id);
  const pin = d.key === "sign" ? ["署名用パスワード", "signing password"] : ["暗証番号", "PIN"];
  const STEPS = {
    fetching: ["ログインサービスに接続しています…", "Contacting the login service…"],
    waiting_for_card: ["マイナンバーカードをカードリーダーに置いてください", "Place your My Number card on the reader"],
    waiting_for_pin: ["カードエージェントの画面で" + pin[0] + "を入力してください（このページには入力しません）",
                      "Enter your " + pin[1] + " in the card agent (never on this page)"],
    signing: ["カードを読み取っています…", "Reading the card…"],
    sending: ["確認しています…", "Checking…"],
    done: ["完了しました", "Done"],
    other: ["もう一方の端末で続けてください", "Continue on the other device"],
    none: ["カードエージェントがありません", "No card agent"],
  };
  const step = (pair) => { $("step").textContent = ja ? pair[0] : pair[1]; };
  let viaAgent = false;
  const fail = (e) => {
    const text = (ja ? "エラー: " : "Error: ") + (ja ? e.message_ja : e.message);
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
      if (status.state === "verified") { step(STEPS.done); $("finish").submit(); return; }
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
  }
  $("retry").addEventListener("click", () => location.reload());
  start();
})();
"""

__all__ = ["DEVICE_PATH", "SCRIPT", "SCRIPT_PATH", "TEXT", "content_security_policy", "device_page", "login_page"]
