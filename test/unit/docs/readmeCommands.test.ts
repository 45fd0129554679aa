// Every command the README shows works when copied: its two walk-throughs (the ```bash blocks of "Try it
// locally" and "Command line") are run as written by test/e2e/cli/cli.test.ts on a stack whose port is not 7071;
// every other command is checked here. A curl takes its URL from a variable or from .local/stack.json (never a
// port: the stack takes the next free one when 7071 is busy), and passes --cacert when it calls the stack's
// HTTPS stand-ins; `npm run X` names a script package.json has; `npx gem-flow X` a command the CLI has.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(__dirname, '../../..');
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const scripts = Object.keys(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts);
const CLI_COMMANDS = ['match', 'status', 'list', 'outbox', 'cancel', 'validate'];

/** Shell text: every ```bash block, and every inline code span (joined over line breaks) that runs something. */
function shellTexts(): string[] {
  const blocks = [...readme.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const prose = readme.replace(/```[\s\S]*?```/g, '');
  const spans = [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' '));
  // A span of two words (`curl --cacert`, `npm start`) names a tool in prose rather than showing a command.
  return [...blocks, ...spans.filter((span) => /^(curl|npm|npx)\s\S+\s\S/.test(span))];
}

/** One command per element: a block's lines (continuations joined), split at `&&` and pipes. */
function commands(): string[] {
  return shellTexts()
    .flatMap((text) => text.replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'))
    .flatMap((line) => line.split(/\s&&\s|\s\|\s/));
}

/** The URL a curl command calls: its first argument that is, or builds, a URL. */
function curlTarget(command: string): string | undefined {
  const tokens = command.match(/"(?:[^"\\]|\\.|\$\([^)]*\))*"|'[^']*'|\S+/g) ?? [];
  return tokens.find(
    (t) =>
      /^["']?(https?:\/\/|\$)/.test(t) &&
      !/^["']?\$\(node -p "require\('\.\/\.local\/stack\.json'\)\.caFile"\)/.test(t),
  );
}

describe("the README's commands", () => {
  const all = commands();

  it('are found (the extraction itself works)', () => {
    expect(all.filter((c) => c.startsWith('curl ')).length).toBeGreaterThanOrEqual(5);
    expect(all.filter((c) => c.startsWith('npx gem-flow ')).length).toBeGreaterThanOrEqual(10);
  });

  it('never call a port on localhost: URLs come from .local/stack.json or a variable', () => {
    for (const command of all.filter((c) => c.startsWith('curl '))) {
      const target = curlTarget(command);
      expect(target, command).toBeDefined();
      expect(target, command).not.toMatch(/^["']?https?:\/\/(localhost|127\.|\[::1\])/);
    }
    expect(readme).not.toMatch(/localhost:7071\//);
  });

  it('pass --cacert to every stand-in served over HTTPS with the stack CA', () => {
    const https = all.filter(
      (c) => c.startsWith('curl ') && /simulatorAdminUrl|simulatorUrl|keyVaultUrl|https:\/\/127/.test(c),
    );
    expect(https.length).toBeGreaterThan(0);
    for (const command of https)
      expect(command, command).toMatch(
        /--cacert "\$\(node -p "require\('\.\/\.local\/stack\.json'\)\.caFile"\)"/,
      );
  });

  it('run npm scripts package.json has', () => {
    for (const command of all) {
      const script = /^npm run (?:--silent )?([\w:-]+)/.exec(command)?.[1];
      if (script) expect(scripts, command).toContain(script);
    }
  });

  it('use commands the CLI has', () => {
    for (const command of all.filter((c) => c.startsWith('npx gem-flow '))) {
      const words = command
        .split(/\s+/)
        .slice(2)
        .filter((w) => !w.startsWith('-'));
      expect(CLI_COMMANDS, command).toContain(words[0]);
    }
  });

  it('of both walk-throughs are run as written by the CLI end-to-end test', () => {
    const e2e = readFileSync(join(repoRoot, 'test/e2e/cli/cli.test.ts'), 'utf8');
    expect(e2e).toContain("readmeBlock('Try it locally')");
    expect(e2e).toContain("readmeBlock('Command line')");
    for (const heading of ['Try it locally', 'Command line']) {
      const section = readme.slice(readme.indexOf(`\n## ${heading}\n`));
      expect(/```bash\n/.test(section), heading).toBe(true);
    }
  });
});
