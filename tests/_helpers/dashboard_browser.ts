/**
 * Test helper: headless chromium (Debian's package) driven by npm:puppeteer-core, for the
 * dashboard tests and `deno task screenshots`. Every request the page makes to a host other than
 * 127.0.0.1 is aborted and recorded (the dashboard must work offline), as are the page's uncaught
 * errors. Owns the chromium process and its temp profile; close() removes both.
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian installs chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Whether the chromium executable is there. */
export async function hasChromium(): Promise<boolean> {
  return await Deno.stat(CHROMIUM_PATH).then((s) => s.isFile, () => false);
}

/** A browser page plus what it did that a test checks afterwards. */
export interface DashboardBrowser {
  page: Page;
  /** URLs the page tried to load from anywhere but 127.0.0.1 (all were aborted). */
  offsite: string[];
  /** Uncaught errors in the page. */
  errors: string[];
  close(): Promise<void>;
}

/** Launches chromium with one 1280×800 page. */
export async function openBrowser(): Promise<DashboardBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "culex_test_dashboard_" });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      userDataDir: profile,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
      defaultViewport: { width: 1280, height: 800 },
    });
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
  const page = await browser.newPage();
  const offsite: string[] = [];
  const errors: string[] = [];
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.protocol === "data:" || url.hostname === "127.0.0.1") {
      void req.continue();
    } else {
      offsite.push(req.url());
      void req.abort();
    }
  });
  page.on("pageerror", (e) => errors.push(e instanceof Error ? e.message : String(e)));
  return {
    page,
    offsite,
    errors,
    async close() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits (bounded) until the element's text satisfies `ok`; returns the text. */
export async function waitForText(
  page: Page,
  selector: string,
  ok: (text: string) => boolean,
  timeoutMs = 20_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await page.$eval(selector, (e) => e.textContent ?? "").catch(() => "");
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${selector}: text still ${JSON.stringify(last)} after ${timeoutMs} ms`);
}

/**
 * Clicks `selector` once it is on the page and clickable. A list that reloads replaces its rows
 * (and their buttons) under the pointer, and puppeteer then says the node "is either not
 * clickable or not an Element": the click is tried again on the new node (bounded).
 */
export async function clickSettled(page: Page, selector: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await page.click(selector);
      return;
    } catch (err) {
      const replaced = /not clickable|No element found|detached/i.test(String(err));
      if (!replaced || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * The two-click danger buttons (arm, then confirm): clicks until the button arms (`armed` text),
 * then once more. The page disarms a button 4 s after arming it, and a loaded machine can be
 * slower than that between two looks: the button is only clicked to arm when it reads unarmed,
 * so a slow look never turns into a confirm. A reload between the two clicks puts back an
 * unarmed button: armed again.
 */
export async function confirmClick(
  page: Page,
  selector: string,
  armed: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const text = () => page.$eval(selector, (e) => e.textContent ?? "").catch(() => "");
  while ((await text()) !== armed) {
    if (Date.now() > deadline) throw new Error(`${selector} never showed ${JSON.stringify(armed)}`);
    await clickSettled(page, selector);
    await waitForText(page, selector, (t) => t === armed, 3_000).catch(() => "");
  }
  await clickSettled(page, selector);
  // Still armed a moment after the confirm: the list re-rendered between the two clicks and this
  // click armed its new button. Confirm that one.
  await new Promise((r) => setTimeout(r, 300));
  const now = await page.$eval(selector, (e) => e.textContent ?? "").catch(() => "");
  if (now === armed) await clickSettled(page, selector);
}
