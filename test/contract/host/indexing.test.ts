// Indexing as the Functions host does it: a function whose binding cannot be resolved (an unknown %SETTING%,
// a schedule that is not 6-field NCRONTAB) is disabled with the host's own messages, and the host runs every
// other function. Sources: Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/NameResolverExtensions.cs
// ("'%NAME%' does not resolve to a value.", "The '%' at position N does not have a closing '%'") and
// DefaultNameResolver.cs (IConfiguration: case-insensitive, ':' for '__'); Indexers/FunctionIndexer.cs ("Function
// '<name>' failed indexing and will be disabled.", then the next function); Indexers/FunctionIndexingException.cs
// ("Error indexing method '<name>'"); Azure/azure-functions-host src/WebJobs.Script/ScriptHostBuilderExtensions.cs
// (AllowPartialHostStartup = true), Host/ScriptHost.cs and Utility.cs FlattenException (the error kept per
// function, "<source>: <message>." joined), Controllers/FunctionsController.cs (GET admin/functions/{name}/status).
import { describe, expect, it } from 'vitest';
import { startHost } from '../../../local/host/host.js';
import { resolveSettingReferences } from '../../../local/host/settings.js';
import { fixtureApp, tempDir } from './helpers.js';

function start(env: Record<string, string>, lines: string[] = []) {
  delete process.env.FIXTURE_TICK_SCHEDULE;
  return startHost({
    appRoot: fixtureApp,
    port: 0,
    eventGrid: { watch: false },
    env: { FIXTURE_OUT_DIR: tempDir('indexing'), ...env },
    log: (line) => lines.push(line),
  });
}

async function status(baseUrl: string, masterKey: string, name: string) {
  const response = await fetch(`${baseUrl}/admin/functions/${name}/status`, {
    headers: { 'x-functions-key': masterKey },
  });
  return { status: response.status, body: response.status === 200 ? await response.json() : undefined };
}

describe('a function whose binding does not resolve is disabled; the others run', () => {
  it("disables a timer whose %SETTING% is missing, in the host's words, and serves the rest", async () => {
    const lines: string[] = [];
    const host = await start({}, lines);
    try {
      const expected =
        "Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.tick'. " +
        "Microsoft.Azure.WebJobs.Host: '%FIXTURE_TICK_SCHEDULE%' does not resolve to a value.";
      expect(host.functionErrors).toEqual({ tick: [expected] });
      // Still listed, as the host lists every function it was given; only its trigger does not run.
      expect(host.functions.map((f) => f.name)).toContain('tick');
      const disabled = lines.find((l) =>
        l.startsWith("Function 'Functions.tick' failed indexing and will be disabled."),
      );
      expect(disabled, 'the warning names the missing setting').toContain(
        "app setting 'FIXTURE_TICK_SCHEDULE'",
      );
      expect(lines).toContain(`The 'tick' function is in error: ${expected}`);

      expect(await status(host.baseUrl, host.keys.masterKey, 'tick')).toEqual({
        status: 200,
        body: { errors: [expected] },
      });
      expect(await status(host.baseUrl, host.keys.masterKey, 'yearly')).toEqual({ status: 200, body: {} });
      expect((await status(host.baseUrl, host.keys.masterKey, 'nope')).status).toBe(404);

      const hello = await fetch(`${host.baseUrl}/api/hello/indexing`);
      expect(hello.status).toBe(200);
      // A disabled timer cannot be run by hand either.
      const run = await fetch(`${host.baseUrl}/admin/functions/tick`, {
        method: 'POST',
        headers: { 'x-functions-key': host.keys.masterKey },
      });
      expect(run.status).toBe(404);
    } finally {
      await host.close();
    }
  });

  it('disables a timer with a 5-field schedule', async () => {
    const host = await start({ FIXTURE_TICK_SCHEDULE: '*/5 * * * *' });
    try {
      expect(Object.keys(host.functionErrors)).toEqual(['tick']);
      expect(host.functionErrors.tick![0]).toMatch(
        /^Microsoft\.Azure\.WebJobs\.Host: Error indexing method 'Functions\.tick'\. Microsoft\.Azure\.WebJobs\.Extensions: .*6-field NCRONTAB/,
      );
      expect((await fetch(`${host.baseUrl}/api/hello/x`)).status).toBe(200);
    } finally {
      await host.close();
    }
  });

  it('indexes every function when the settings resolve', async () => {
    const host = await start({ FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *' });
    try {
      expect(host.functionErrors).toEqual({});
      expect(await status(host.baseUrl, host.keys.masterKey, 'tick')).toEqual({ status: 200, body: {} });
    } finally {
      await host.close();
    }
  });
});

describe('resolving %NAME% as the name resolver does', () => {
  const env = { SWEEP_SCHEDULE: '0 */5 * * * *', Schedules__Nightly: '0 0 2 * * *', EMPTY: '' };

  it('reads app settings case-insensitively, with ":" for "__", and keeps the text around them', () => {
    expect(resolveSettingReferences('%sweep_schedule%', env, 'x')).toBe('0 */5 * * * *');
    expect(resolveSettingReferences('%Schedules:Nightly%', env, 'x')).toBe('0 0 2 * * *');
    expect(resolveSettingReferences('in-%EMPTY%/{name}', env, 'x')).toBe('in-/{name}');
    expect(resolveSettingReferences('no references', env, 'x')).toBe('no references');
  });

  it("throws the SDK's messages for an unknown setting, an empty name and an unclosed '%'", () => {
    expect(() => resolveSettingReferences('%MISSING%', env, 'x')).toThrow(
      "'%MISSING%' does not resolve to a value.",
    );
    expect(() => resolveSettingReferences('%%', env, 'x')).toThrow("'%%' does not resolve to a value.");
    expect(() => resolveSettingReferences('50%', env, 'x')).toThrow(
      "The '%' at position 2 does not have a closing '%'.",
    );
  });
});
