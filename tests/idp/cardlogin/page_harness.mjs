// Runs the card login pages' script (idp/login/page.py SCRIPT) in Node against the real provider and agent, with
// the few DOM objects it touches and a fetch that behaves like a browser's: relative URLs resolve against the page,
// same-origin requests carry the page's cookies, cross-origin requests carry Origin and fail unless the answer
// grants the page's origin (CORS). Prints one JSON line per change of the page; exits once the finish form is
// submitted, an error is shown, or the device page says to continue on the other device.
//
// usage: node page_harness.mjs PAGE_HTML_FILE PAGE_URL SCRIPT_FILE COOKIE_HEADER
import { readFileSync } from "node:fs";

const [pageFile, pageUrl, scriptFile, cookie] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const origin = new URL(pageUrl).origin;
const lang = (html.match(/<html lang="([a-z]+)"/) || [])[1] || "ja";
const ENDINGS = ["Continue on the other device", "もう一方の端末で続けてください", "No card agent",
                 "カードエージェントがありません"];
const main = html.match(/<main id="card-login"([^>]*)>/s)[1];
const dataset = {};
for (const [, name, value] of main.matchAll(/data-([a-z-]+)="([^"]*)"/g)) {
  dataset[name.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value.replace(/&amp;/g, "&");
}
const report = (event) => console.log(JSON.stringify(event));
const elements = {};
const element = (id) => elements[id] ??= {
  id, hidden: !["step", "finish"].includes(id), href: "", addEventListener() {}, focus() {},
  set textContent(text) {
    this._text = text;
    report({id, text});
    if (id === "step" && ENDINGS.some((ending) => text.endsWith(ending))) {
      process.exit(0);
    }
  },
  get textContent() { return this._text; },
  submit() { report({submitted: true}); process.exit(0); },
};
const errorElement = element("error");
Object.defineProperty(errorElement, "hidden", {
  set(value) { if (!value) { report({error: this._text}); process.exit(0); } }, get() { return true; },
});
const browserFetch = async (input, init = {}) => {
  const url = new URL(input, pageUrl);
  const headers = new Headers(init.headers || {});
  const cross = url.origin !== origin;
  if (cross) { headers.set("Origin", origin); } else if (cookie) { headers.set("Cookie", cookie); }
  const answer = await fetch(url, {...init, headers});
  if (cross && answer.headers.get("access-control-allow-origin") !== origin) {
    throw new TypeError("CORS: " + url.origin + " did not allow " + origin);
  }
  return answer;
};
const document = { getElementById: (id) => (id === "card-login" ? { dataset } : element(id)), documentElement: { lang } };
const location = { hash: new URL(pageUrl).hash, reload() { process.exit(0); } };
const script = readFileSync(scriptFile, "utf8");
new Function("document", "fetch", "location", "setTimeout", script)(document, browserFetch, location, setTimeout);
setTimeout(() => { report({timeout: true}); process.exit(3); }, 45000);
