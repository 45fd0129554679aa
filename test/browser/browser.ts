/**
 * A real browser for the page tests: Debian's Chromium (`/usr/bin/chromium`, or `CHROMIUM_PATH`) driven by
 * playwright-core, headless, with a fresh profile per run and nothing reaching out (no background
 * networking, updates or sync). `.ci/run` installs Chromium with apt-get when it is missing; where it cannot
 * be found, `chromiumPath()` is undefined and the tests skip with a loud message saying how to install it.
 * Screenshots go under `.local/screenshots/` for a person to look at.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
import type { TextSource } from '../e2e/load/secretScan.js';

export const SCREENSHOTS = resolve(__dirname, '..', '..', '.local', 'screenshots');

const LAUNCH_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium to drive, or undefined when there is none. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path): path is string => Boolean(path) && existsSync(path!));
}

export function warnNoBrowser(): void {
  const line = '!'.repeat(100);
  console.warn(
    `\n${line}\n!! BROWSER TESTS SKIPPED: no Chromium at /usr/bin/chromium (or CHROMIUM_PATH).\n` +
      `!! Install it with: apt-get update && apt-get install -y chromium   (.ci/run does this when it can)\n${line}\n`,
  );
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Everything the page's Content-Security-Policy refused, and every uncaught error on the page. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
  /**
   * Every response the page received (the page, its scripts and styles, every API answer), as text to scan
   * for secrets: the status line, the headers and the body. Read it after `settled()`.
   */
  responses: TextSource[];
  /** Waits until every response seen so far has been read into `responses`. */
  settled(): Promise<void>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(executablePath: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'gemflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: LAUNCH_FLAGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const requests: string[] = [];
  // A string, not a function: this file is compiled for Node, the script runs in the page.
  await context.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  page.on('console', (message) => {
    // The one refusal a test provokes on purpose (a wrong key) is logged by Chromium as a failed resource.
    if (message.type() === 'error' && !/status of 401/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  const responses: TextSource[] = [];
  const reading: Promise<void>[] = [];
  page.on('response', (response) =>
    reading.push(readResponse(response).then((text) => void responses.push(text))),
  );
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    problems,
    requests,
    responses,
    async settled() {
      await Promise.all(reading);
    },
    async screenshot(name) {
      const file = join(SCREENSHOTS, `${name}.png`);
      // Transitions finished (Leaflet fades its popups in), so the picture shows what a person sees.
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      return file;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A response as text: a download's body is not kept by the browser, so it is named as such (and a test
 * compares the downloaded bytes with the outbox document instead). */
async function readResponse(response: Response): Promise<TextSource> {
  const headers = Object.entries(await response.allHeaders())
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
  const body = await response.body().then(
    (bytes) => bytes.toString('latin1'),
    (error: unknown) => `(body not available: ${error instanceof Error ? error.message : String(error)})`,
  );
  return { source: `${response.status()} ${response.url()}`, text: `${headers}\n\n${body}` };
}
