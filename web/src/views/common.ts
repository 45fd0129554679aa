/** Pieces the views share: how an error is shown, and which runtime statuses are still running. */
import { ApiError } from '../api.js';
import { h } from '../dom.js';
import type { MatchStatus } from '../model/types.js';

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

export function isActive(status: Pick<MatchStatus, 'runtimeStatus'>): boolean {
  return ACTIVE.has(status.runtimeStatus);
}

export function errorBox(error: unknown): HTMLElement {
  const text = error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError ? ` (HTTP ${error.status})` : '';
  return h('p', { class: 'error', role: 'alert' }, `${text}${status}`);
}

/** A part of the page (map, API explorer) that could not be loaded. */
export function lazyError(part: string, error: unknown): HTMLElement {
  const text = error instanceof Error ? error.message : String(error);
  return h('p', { class: 'error', role: 'alert' }, `The ${part} could not be shown: ${text}`);
}
