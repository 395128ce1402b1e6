// The notes app in a real browser over a gateway TLS listener: Chromium's
// TLS, ALPN and HTTP/2 are not Go's, and browsers are who the listener is
// for.
//
//   SPKI=… node tests/browser/https.mjs APP_URL USER
//
// SPKI is the base64 SHA-256 of the listener's certificate's public key:
// Chromium accepts that self-signed certificate and no other. Opens
// APP_URL (https), logs in as USER through the app's form, and checks that
// the page names USER, that the page came over HTTP/2, and that the
// gateway's affinity cookie is Secure. Prints what it checked; exits 1 with
// the reason on the first check that fails. tests/e2e/https_test.go runs
// it.
import { run, step } from "./chromium.mjs";

const [appURL, user] = process.argv.slice(2);
const spki = process.env.SPKI;
if (!appURL || !user || !spki) {
  console.error("usage: SPKI=… node https.mjs APP_URL USER");
  process.exit(2);
}

await run({ args: ["--ignore-certificate-errors-spki-list=" + spki] }, async (context, page) => {
  const first = await page.goto(appURL);
  if (!first || first.status() !== 200) throw new Error(`GET ${appURL}: status ${first && first.status()}, want 200`);
  step(`opened ${appURL}`);

  await page.getByPlaceholder("your name").fill(user);
  // The app answers the form with a redirect to its page (Post/Redirect/Get).
  await Promise.all([
    page.waitForResponse((r) => r.url() === appURL && r.request().method() === "GET"),
    page.getByRole("button", { name: "Log in" }).click(),
  ]);
  await page.waitForLoadState("load");
  const shown = await page.locator("p", { hasText: "Logged in as" }).innerText();
  if (!new RegExp(`^Logged in as ${user}\\b`).test(shown)) {
    throw new Error(`after the login the page says ${JSON.stringify(shown)}, want "Logged in as ${user}"`);
  }
  step(`logged in through the form: the page says ${JSON.stringify(shown)}`);

  const nav = await page.evaluate(() => {
    const e = performance.getEntriesByType("navigation")[0];
    return { protocol: e.nextHopProtocol, secure: window.isSecureContext, url: e.name };
  });
  if (nav.protocol !== "h2") throw new Error(`the page ${nav.url} came over ${JSON.stringify(nav.protocol)}, want "h2"`);
  if (!nav.secure) throw new Error("the page is not a secure context");
  step(`the page came over ${nav.protocol}, in a secure context`);

  const cookies = await context.cookies(appURL);
  const affinity = cookies.find((c) => c.name === "GATEWAY_AFFINITY");
  if (!affinity || !affinity.secure) {
    throw new Error(`affinity cookie ${JSON.stringify(affinity)}: want one, Secure (cookies: ${cookies.map((c) => c.name).join(", ")})`);
  }
  step("the GATEWAY_AFFINITY cookie is Secure");
});
