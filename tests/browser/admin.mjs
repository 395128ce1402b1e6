// The admin console in a real browser: Debian's chromium, driven by
// playwright-core (which downloads no browser of its own).
//
//   ADMIN_PASSWORD=… [ADMIN_USER=admin] node tests/browser/admin.mjs CONSOLE_URL SCREENSHOT [APP_URL]
//
// Against a running gateway whose first generation holds some sessions: opens
// the console (with ADMIN_PASSWORD, through its login form: a wrong password
// first, then the right one), presses Upgrade, sees generation 2 active and generation 1
// detached (with APP_URL, one more user logs in, on generation 2), takes the
// screenshot, ends generation 1's sessions with their End session buttons and
// sees generation 1 retired (and with ADMIN_PASSWORD, signs out and finds the
// console closed). Prints what it checked; exits 1 with the reason
// on the first check that fails. tests/e2e/admin_test.go runs it.
import { run, step } from "./chromium.mjs";

const [consoleURL, screenshot, appURL] = process.argv.slice(2);
if (!consoleURL || !screenshot) {
  console.error("usage: node admin.mjs CONSOLE_URL SCREENSHOT [APP_URL]");
  process.exit(2);
}

const user = process.env.ADMIN_USER || "admin";
const password = process.env.ADMIN_PASSWORD;
const loginURL = new URL("login", consoleURL).href;

async function signIn(page, pass) {
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function expectText(locator, re, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last = "";
  for (;;) {
    last = (await locator.count()) > 0 ? await locator.first().innerText() : "(absent)";
    if (re.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: got ${JSON.stringify(last)}, want ${re}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The console polls its live part; a reload would do too, but waiting shows
// the live updates work.
async function until(cond, what, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeout / 1000}s for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The wrong password's answer is a 401 on purpose; Chromium reports it.
let expect401 = false;
await run({
  options: { viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1, colorScheme: "light" },
  ignore: (text) => expect401 && /status of 401/.test(text),
}, async (context, page) => {
  page.on("dialog", (d) => d.accept());

  await page.goto(consoleURL);
  if (password) {
    await page.waitForURL(loginURL);
    step("the console sends a browser without a session to its login form");
    expect401 = true;
    await signIn(page, password + "-wrong");
    await expectText(page.locator(".flash.error"), /Wrong user or password/, "the login form after a wrong password");
    expect401 = false;
    step("a wrong password is refused on the form");
    await Promise.all([page.waitForURL(consoleURL), signIn(page, password)]);
    const session = (await context.cookies()).find((c) => c.name.startsWith("gateway-admin-session-"));
    if (!session || !session.httpOnly || session.sameSite !== "Strict") {
      throw new Error(`session cookie ${JSON.stringify(session)}: want HttpOnly and SameSite=Strict`);
    }
    step("signed in through the form: an HttpOnly, SameSite=Strict session cookie");
  }
  await expectText(page.locator("#gen1 .badge"), /^active$/i, "generation 1 before the upgrade");
  const before = Number(await page.locator("#gen1 dd.sessions").innerText());
  if (!(before > 0)) throw new Error(`generation 1 has ${before} sessions; the test logs some in first`);
  step(`console shows generation 1 active with ${before} sessions`);

  await Promise.all([page.waitForURL(consoleURL), page.getByRole("button", { name: "Upgrade" }).click()]);
  await expectText(page.locator(".flash.ok"), /upgrade done: generation 2 is active/, "flash after Upgrade");
  await expectText(page.locator("#gen2 .badge"), /^active$/i, "generation 2 after the upgrade");
  await expectText(page.locator("#gen1 .badge"), /^detached$/i, "generation 1 after the upgrade");
  step("Upgrade: generation 2 is active, generation 1 detached");

  if (appURL) {
    const r = await fetch(appURL + "/login", {
      method: "POST", body: new URLSearchParams({ user: "dave" }),
      headers: { Accept: "application/json" },
    });
    const who = await r.json();
    if (who.generation !== "2") throw new Error(`a new login went to generation ${who.generation}, want 2`);
    await until(async () => (await page.locator("#gen2 dd.sessions").innerText()) === "1",
      "the live update to show generation 2's session");
    step("a new session lands on generation 2 and the page shows it without a reload");
  }

  await page.screenshot({ path: screenshot, fullPage: true });
  step("screenshot " + screenshot);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: screenshot.replace(/\.png$/, "") + "-phone.png", fullPage: true });
  await page.setViewportSize({ width: 1000, height: 900 });

  for (let left = before; left > 0; left--) {
    const end = page.locator("#gen1").getByRole("button", { name: "End session" });
    const hash = await page.locator("#gen1 td code").first().innerText();
    await Promise.all([page.waitForURL(consoleURL), end.first().click()]);
    await expectText(page.locator(".flash.ok"), new RegExp(`session ${hash} ended`), "flash after End session");
  }
  step(`End session × ${before}: generation 1 has no session left`);

  await until(async () => (await page.locator("#gen1").count()) === 0 && (await page.locator("#gone1").count()) === 1,
    "generation 1 to leave the list and show as gone");
  await expectText(page.locator("#gone1 .badge"), /^retired$/i, "generation 1 once gone");
  await expectText(page.locator("#gen2 .badge"), /^active$/i, "generation 2 at the end");
  step("generation 1 retired; generation 2 active");

  if (password) {
    await Promise.all([page.waitForURL(loginURL), page.getByRole("button", { name: "Sign out" }).click()]);
    await page.goto(consoleURL);
    await page.waitForURL(loginURL);
    step("signed out: the console asks for the login again");
  }
});
