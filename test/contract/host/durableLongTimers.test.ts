/**
 * Timers longer than the Azure Storage provider's maximum take the path they take on Azure. The extension sends
 * `maximumShortTimerDuration` 6 days and `longRunningTimerIntervalDuration` 3 days (AzureStorageDurabilityProvider.cs,
 * OrchestrationTriggerAttributeBindingProvider.cs), so durable-functions makes a longer timer a LongTimerTask
 * (one id per piece), and the extension splits its CreateTimer into pieces of at most 3 days
 * (DurableOrchestrationContext.cs IDurableOrchestrationContext.CreateTimer). A virtual day passes in 86 ms here.
 */
import { describe, expect, it } from 'vitest';
import { EventType, type HistoryEvent } from '../../../local/host/durable/history.js';
import { episodeTime, useDurableHarness, waitForStatus } from './durableHarness.js';

const DAY = 86_400_000;
const h = useDurableHarness({ hub: 'LongTimers', scale: 1_000_000 });

const timersOf = (history: HistoryEvent[]) => history.filter((e) => e.EventType === EventType.TimerCreated);

describe('long durable timers', () => {
  it('splits a 10-day timer into pieces of at most 3 days, each with its own id, and fires at the end', async () => {
    const client = h.client();
    const id = await client.startNew('LongTimer', { input: { ms: 10 * DAY } });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    const history = await h.engine.history(id);
    const pieces = timersOf(history);
    const started = episodeTime(history, pieces[0]);
    const finalFireAt = started + 10 * DAY;
    // Four pieces when every piece fires on time; fewer when a loaded machine fires one late (the next piece
    // then starts later, so less is left), but never one: a 10-day timer is always split.
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.map((p) => p.EventId)).toEqual(pieces.map((_, i) => i));
    // Each piece: three days from its episode, or the rest when that is shorter (the extension's loop).
    for (const piece of pieces) {
      const at = episodeTime(history, piece);
      expect(Date.parse(piece.FireAt ?? '')).toBe(Math.min(finalFireAt, at + 3 * DAY));
    }
    expect(Date.parse(pieces.at(-1)?.FireAt ?? '')).toBe(finalFireAt);
    // The SDK waited for the whole chain, not just the first piece.
    const firedAt = Date.parse((status.output as { firedAt: string }).firedAt);
    expect(firedAt).toBeGreaterThanOrEqual(finalFireAt);
    expect(history.filter((e) => e.EventType === EventType.TimerFired)).toHaveLength(pieces.length);
  });

  it('keeps a timer of exactly 6 days in one piece', async () => {
    const client = h.client();
    const id = await client.startNew('LongTimer', { input: { ms: 6 * DAY } });
    await waitForStatus(client, id);
    const history = await h.engine.history(id);
    const pieces = timersOf(history);
    expect(pieces).toHaveLength(1);
    expect(Date.parse(pieces[0].FireAt ?? '')).toBe(episodeTime(history, pieces[0]) + 6 * DAY);
  });

  it('cancels the piece that is running when the orchestrator cancels a long timer', async () => {
    const client = h.client();
    const id = await client.startNew('Race', { input: { timerMs: 10 * DAY } });
    // Let the first piece fire, so the second one runs when the event wins.
    for (;;) {
      if (timersOf(await h.engine.history(id)).length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await client.raiseEvent(id, 'Go', 7);
    await waitForStatus(client, id, (s) => s.customStatus === 'cancelled' || s.runtimeStatus !== 'Running');
    // Past the end of the whole timer: the cancelled piece must not fire, and no piece may follow it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await client.raiseEvent(id, 'Done', 'yes');
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ won: 'event', value: 7, done: 'yes' });
    const history = await h.engine.history(id);
    const go = history.findIndex((e) => e.EventType === EventType.EventRaised && e.Name === 'Go');
    const running = timersOf(history.slice(0, go)).at(-1);
    expect(timersOf(history.slice(go))).toEqual([]);
    expect(history.some((e) => e.EventType === EventType.TimerFired && e.TimerId === running?.EventId)).toBe(
      false,
    );
  });
});
