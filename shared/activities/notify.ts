/**
 * The `notify` activity: sends the run's summary (or error document) to the callback URL, HMAC-signed. The
 * target is checked again here whatever path the URL came by, and a callback that cannot be sent never fails
 * the match: the outcome is returned and recorded instead.
 */
import { errorMessage } from '../errors.js';
import { readJsonBlob } from '../outbox.js';
import type { Services } from '../services.js';
import { callbackTargetProblem, parseAllowList } from '../workflow/callbackTarget.js';
import { buildNotificationRequest, sendNotification } from '../workflow/notify.js';
import type { NotifyInput, NotifyResult } from '../workflow/types.js';

/** The wait between delivery attempts. */
const RETRY_DELAY_MS = 1_000;

export async function notify(
  services: Pick<Services, 'outbox' | 'settings' | 'notifySigningSecret'>,
  { url, summaryBlob, instanceId }: NotifyInput,
): Promise<NotifyResult> {
  // Checked again here whatever path the URL came by (an instance started by hand, or before an upgrade).
  const { allowList } = parseAllowList(services.settings.notify.allowedHosts);
  const refusal = callbackTargetProblem(url, allowList);
  if (refusal) return { delivered: false, refused: true, attempts: 0, error: `The callback URL ${refusal}.` };
  try {
    const summary = await readJsonBlob<{ instanceId?: unknown }>(services.outbox, summaryBlob);
    if (summary === undefined) throw new Error(`The outbox has no ${summaryBlob} to send.`);
    if (instanceId !== undefined && summary.instanceId !== instanceId) {
      throw new Error(
        `outbox/${summaryBlob} belongs to run ${String(summary.instanceId)}, not ${instanceId}; nothing was sent.`,
      );
    }
    const secret = await services.notifySigningSecret();
    const request = buildNotificationRequest(summary, secret, new Date());
    return await sendNotification(url, request, {
      maxAttempts: services.settings.notify.maxAttempts,
      retryDelayMs: RETRY_DELAY_MS,
      allowList,
    });
  } catch (error) {
    // A callback that cannot be sent never fails the match; the outcome is recorded instead.
    return {
      delivered: false,
      attempts: 0,
      error: errorMessage(error),
    };
  }
}
