/**
 * The matches list: one page at a time, newest first, paged with the API's `continuationToken` (older pages
 * by the token, newer ones by going back), each match with its progress bar, phase, GEM status, polls and
 * ETA. While the page shows a running match it is read again every few seconds; when nothing on it runs,
 * every half minute (a new upload appears on the first page).
 */
import { listMatches } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import type { MatchPage, MatchStatus } from '../model/types.js';
import { type Poller, poll } from '../poller.js';
import { progressLine, progressOf } from '../progress.js';
import { errorBox, isActive } from './common.js';

const ACTIVE_INTERVAL_MS = 3_000;
const IDLE_INTERVAL_MS = 30_000;
const PAGE_SIZE = 20;

function row(status: MatchStatus): HTMLTableRowElement {
  const view = progressOf(status);
  const created = new Date(status.createdTime);
  return h(
    'tr',
    {
      'data-match': status.id,
      'data-runtime-status': status.runtimeStatus,
      class: `match ${isActive(status) ? 'active' : 'done'}`,
    },
    h('td', {}, h('a', { href: `#/match/${encodeURIComponent(status.id)}`, class: 'match-id' }, status.id)),
    h('td', {}, h('span', { class: `badge ${status.runtimeStatus.toLowerCase()}` }, status.runtimeStatus)),
    h(
      'td',
      { class: 'progress-cell' },
      h('progress', { max: 100, value: view.percent, 'aria-label': `progress of ${status.id}` }),
      h('span', { class: 'percent' }, `${view.percent}%`),
    ),
    h('td', { class: 'progress-line' }, progressLine(view)),
    h('td', {}, status.outcome ?? ''),
    h('td', {}, h('time', { datetime: created.toISOString() }, created.toLocaleString())),
  );
}

function table(page: MatchPage): HTMLElement {
  if (page.matches.length === 0) {
    return h(
      'p',
      { class: 'empty' },
      'No matches in this window. Upload a file to the inbox, or POST /api/matches.',
    );
  }
  return h(
    'table',
    { class: 'matches' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Match', 'Status', 'Progress', 'Phase', 'Outcome', 'Created'].map((t) => h('th', {}, t)),
      ),
    ),
    h('tbody', {}, ...page.matches.map(row)),
  );
}

export function renderList(root: HTMLElement): () => void {
  const tokens: (string | undefined)[] = [undefined];
  let current = 0;
  let page: MatchPage | undefined;
  const body = h('div', { class: 'list-body' }, h('p', { class: 'loading' }, 'Loading matches…'));
  const message = h('div', { class: 'message' });
  const newer = h('button', { type: 'button', class: 'newer', disabled: true }, '← Newer');
  const older = h('button', { type: 'button', class: 'older', disabled: true }, 'Older →');
  const pageLabel = h('span', { class: 'page-label' }, 'Page 1');
  replaceChildren(
    root,
    h('h2', {}, 'Matches'),
    message,
    body,
    h('nav', { class: 'pager' }, newer, pageLabel, older),
  );

  const poller: Poller = poll(
    async () => {
      page = await listMatches(tokens[current], PAGE_SIZE);
      replaceChildren(message);
      replaceChildren(body, table(page));
      newer.disabled = current === 0;
      older.disabled = !page.continuationToken;
      pageLabel.textContent = `Page ${current + 1}`;
      return page.matches.some(isActive) ? ACTIVE_INTERVAL_MS : IDLE_INTERVAL_MS;
    },
    (error) => replaceChildren(message, errorBox(error)),
  );
  older.addEventListener('click', () => {
    if (!page?.continuationToken) return;
    tokens[current + 1] = page.continuationToken;
    current++;
    poller.now();
  });
  newer.addEventListener('click', () => {
    if (current === 0) return;
    current--;
    poller.now();
  });
  return () => poller.stop();
}
