// Blob metadata as a source of match options: a callback named there (by anyone who can write to the inbox)
// must be a host on the allow-list; the HTTP door, behind the function key, follows the general rules.
import { describe, expect, it } from 'vitest';
import { bodyFromBlobMetadata, metadataCallbackProblem } from '../../../functions/startMatch.js';
import { parseAllowList } from '../../../shared/workflow/callbackTarget.js';

const allowList = parseAllowList('127.0.0.1, hooks.corp.example').allowList;
const blob = (metadata: Record<string, string>) => ({
  container: 'inbox',
  name: 'a.parquet',
  etag: '0x1',
  metadata,
});

describe('the callbackurl metadata key', () => {
  it('is read, whatever the case of its key', () => {
    expect(bodyFromBlobMetadata(blob({ CallbackUrl: 'https://hooks.corp.example/x' }))).toMatchObject({
      callbackUrl: 'https://hooks.corp.example/x',
    });
  });

  it.each(['blob', 'sweep'] as const)('is limited to listed hosts for matches started by %s', (trigger) => {
    const listed = bodyFromBlobMetadata(blob({ callbackurl: 'http://127.0.0.1:9000/done' }));
    expect(metadataCallbackProblem(listed, trigger, allowList)).toBeNull();
    // The listed address in another numeric form is the same host.
    const numeric = bodyFromBlobMetadata(blob({ callbackurl: 'http://2130706433:9000/done' }));
    expect(metadataCallbackProblem(numeric, trigger, allowList)).toBeNull();
    for (const url of [
      'https://example.com/hook',
      'https://10.0.0.1/',
      'http://localhost:9000/',
      'https://2130706434/', // 127.0.0.2
    ]) {
      const body = bodyFromBlobMetadata(blob({ callbackurl: url }));
      expect(metadataCallbackProblem(body, trigger, allowList), url).toEqual({
        field: 'callbackUrl',
        reason: expect.stringMatching(
          /^comes from the blob metadata key callbackurl, which may name only a host listed in NOTIFY_ALLOWED_HOSTS/,
        ),
      });
    }
  });

  it('does not apply to a request through the HTTP API, nor to uploads without a callback', () => {
    expect(
      metadataCallbackProblem({ inboxBlob: 'a', callbackUrl: 'https://example.com/x' }, 'http', allowList),
    ).toBeNull();
    expect(metadataCallbackProblem(bodyFromBlobMetadata(blob({})), 'blob', allowList)).toBeNull();
  });
});
