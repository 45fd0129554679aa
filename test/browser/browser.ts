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
import { type BrowserContext, chromium, type Page } from 'playwright-core';

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
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    problems,
    requests,
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
