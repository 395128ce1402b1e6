// How the browser tests run Debian's chromium (CHROMIUM overrides the path)
// through playwright-core, which downloads no browser of its own: headless,
// without the sandbox (the tests run as root), and without QUIC and
// background traffic, so that the only connections are the test's own, over
// TCP to loopback.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// step prints a check that passed, so a failure's output shows how far the
// test got.
export const step = (msg) => console.log("ok: " + msg);

// run opens a page in a fresh profile (Chromium honours
// --ignore-certificate-errors-spki-list only with a user data directory)
// and runs test(context, page). What the page reports as an error (a CSP
// violation among them) fails the test too, unless ignore(text) says the
// test caused it on purpose. A failure is printed with its reason and
// makes the exit code 1; the profile is removed either way.
export async function run({ options = {}, args = [], ignore = () => false }, test) {
  const profile = mkdtempSync(join(tmpdir(), "gateway-chromium-"));
  const problems = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", ...args],
      ...options,
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(20000);
    page.on("console", (m) => {
      if (m.type() === "error" && !ignore(m.text())) problems.push("console: " + m.text());
    });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    await test(context, page);
    if (problems.length) throw new Error(problems.join("\n"));
    step("no console errors");
  } catch (e) {
    console.error("FAIL: " + (e && e.stack || e));
    if (problems.length) console.error(problems.join("\n"));
    process.exitCode = 1;
  } finally {
    if (context) await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
