/**
 * One match: its status and progress (read again every few seconds while it runs), the phase timeline,
 * download buttons for every document it wrote, and what it came to: for a completed match the charts
 * (roads by kind of match, the confidence histogram, GEM's ratios), its timings and the map of its roads;
 * for an invalid file the validation report; for a failure the error document's message and remedy.
 */
import type { StepPhase } from '../../../cli/progress.js';
import { downloadOutput, getMatch, getMatchMap, getOutputJson } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { loadMap } from '../lazy.js';
import { chartNumbers } from '../model/charts.js';
import { timelineOf } from '../model/timeline.js';
import type {
  ErrorDocument,
  MatchStatus,
  OutputDocument,
  SummaryDocument,
  ValidationDocument,
} from '../model/types.js';
import { poll } from '../poller.js';
import { progressLine, progressOf } from '../progress.js';
import { histogram, kindBars } from './charts.js';
import { errorBox, isActive, lazyError } from './common.js';
import { validationView } from './validation.js';

const POLL_INTERVAL_MS = 3_000;

function header(status: MatchStatus): HTMLElement {
  const view = progressOf(status);
  return h(
    'header',
    { class: 'match-header', 'data-runtime-status': status.runtimeStatus },
    h('h2', {}, 'Match ', h('code', {}, status.id)),
    h(
      'p',
      {},
      h('span', { class: `badge ${status.runtimeStatus.toLowerCase()}` }, status.runtimeStatus),
      status.outcome ? h('span', { class: `badge outcome ${status.outcome}` }, status.outcome) : null,
      status.jobId !== null ? ` GEM job ${status.jobId}` : '',
      status.gemStatus ? ` · ${status.gemStatus}` : '',
    ),
    h(
      'div',
      { class: 'progress-cell' },
      h('progress', { max: 100, value: view.percent, 'aria-label': 'progress' }),
      h('span', { class: 'percent' }, `${view.percent}%`),
      h('span', { class: 'progress-line' }, progressLine(view)),
    ),
    status.error ? h('p', { class: 'error', role: 'alert' }, status.error.message) : null,
  );
}

function timeline(status: MatchStatus, seen: Map<string, string>, lastSeen: StepPhase | null): HTMLElement {
  return h(
    'ol',
    { class: 'timeline' },
    ...timelineOf(status, seen, lastSeen).map((step) =>
      h(
        'li',
        { class: `step ${step.state}`, 'data-phase': step.phase, 'data-state': step.state },
        h('span', { class: 'step-label' }, step.label),
        h('span', { class: 'step-state' }, step.state),
        step.seenAt ? h('time', { datetime: step.seenAt }, new Date(step.seenAt).toLocaleTimeString()) : null,
      ),
    ),
  );
}

/** The documents the match has: those its status names, and the error document of a failed match. */
function documentsOf(status: MatchStatus): OutputDocument[] {
  const named = (Object.keys(status.outputs) as OutputDocument[]).filter((d) => status.outputs[d] !== null);
  if (status.runtimeStatus === 'Failed' && !named.includes('error')) named.push('error');
  return named;
}

function downloads(status: MatchStatus): HTMLElement {
  const buttons = documentsOf(status).map((document) => {
    const note = h('span', { class: 'download-note' });
    const button = h(
      'button',
      { type: 'button', class: 'download', 'data-document': document },
      `Download ${document}`,
    );
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const { blob, fileName } = await downloadOutput(status.id, document, (done, size) => {
          note.textContent = ` ${Math.round((100 * done) / size)} %`;
        });
        const url = URL.createObjectURL(blob);
        const link = h('a', { href: url, download: fileName });
        link.click();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        note.textContent = ` saved as ${fileName}`;
      } catch (error) {
        note.textContent = ` ${error instanceof Error ? error.message : String(error)}`;
      } finally {
        button.disabled = false;
      }
    });
    return h('li', {}, button, note);
  });
  return h('section', { class: 'downloads' }, h('h3', {}, 'Outputs'), h('ul', {}, ...buttons));
}

async function completedSections(status: MatchStatus, into: HTMLElement): Promise<void> {
  const summaryBox = h('section', { class: 'summary' });
  const charts = h('section', { class: 'charts' }, h('p', { class: 'loading' }, 'Reading the results…'));
  const mapBox = h('section', { class: 'map-section' }, h('h3', {}, 'Map'));
  replaceChildren(into, charts, mapBox, summaryBox);
  getOutputJson<SummaryDocument>(status.id, 'summary')
    .then((summary) => replaceChildren(summaryBox, timings(summary)))
    .catch((error) => replaceChildren(summaryBox, errorBox(error)));
  const map = await getMatchMap(status.id);
  const numbers = chartNumbers(map, status);
  const scope =
    numbers.roads === numbers.total
      ? `All ${numbers.total} roads.`
      : `The first ${numbers.roads} of ${numbers.total} roads (the map holds at most that many).`;
  replaceChildren(
    charts,
    h('h3', {}, 'Statistics'),
    h('p', { class: 'scope' }, scope),
    h(
      'figure',
      { class: 'kinds-figure' },
      h('figcaption', {}, 'Roads by match'),
      kindBars(numbers.kinds, numbers.roads),
    ),
    h(
      'figure',
      { class: 'histogram-figure' },
      h('figcaption', {}, 'Best confidence per matched road'),
      histogram(numbers.histogram),
    ),
    numbers.gemRatios.length > 0
      ? h(
          'table',
          { class: 'gem-ratios' },
          h('caption', {}, 'GEM’s statistics for the whole file'),
          h(
            'tbody',
            {},
            ...numbers.gemRatios.map((r) =>
              h('tr', {}, h('th', {}, r.label), h('td', {}, `${(100 * r.value).toFixed(2)} %`)),
            ),
          ),
        )
      : null,
  );
  const canvas = h('div', { class: 'map', id: 'map', role: 'region', 'aria-label': 'map of the roads' });
  const legend = h(
    'ul',
    { class: 'legend' },
    ...numbers.kinds.map((k) =>
      h(
        'li',
        { class: `legend-${k.key}` },
        h('span', { class: `swatch ${k.key}` }),
        `${k.label} (${k.value})`,
      ),
    ),
  );
  mapBox.append(legend, canvas, h('p', { class: 'hint' }, 'Click a road for its GERS id and confidence.'));
  try {
    (await loadMap()).renderMap(canvas, map);
  } catch (error) {
    mapBox.append(lazyError('map', error));
  }
}

/**
 * The summary's timings, read defensively: the summary document grows (it is written by a newer or older app
 * than this page, perhaps), so only the rows whose values are there are shown.
 */
function timings(summary: SummaryDocument): HTMLElement {
  const t: Partial<SummaryDocument['timings']> = summary?.timings ?? {};
  const seconds = (value: number | null | undefined) => (typeof value === 'number' ? `${value} s` : null);
  const rows: [string, string | null | undefined][] = [
    ['Requested', t.requestedAt],
    ['Submitted to GEM', t.submittedAt],
    ['Completed', t.completedAt],
    ['Total', seconds(t.durations?.totalSeconds)],
    ['GEM', seconds(t.durations?.gemSeconds)],
  ];
  const present = rows.filter((row): row is [string, string] => typeof row[1] === 'string');
  return h(
    'table',
    { class: 'timings' },
    h('caption', {}, 'Timings (the app’s clock)'),
    h('tbody', {}, ...present.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
  );
}

async function outcomeSections(status: MatchStatus, into: HTMLElement): Promise<void> {
  try {
    if (status.outcome === 'succeeded') await completedSections(status, into);
    else if (status.outcome === 'invalid-input') {
      replaceChildren(
        into,
        validationView(await getOutputJson<ValidationDocument>(status.id, 'validationReport')),
      );
    } else if (documentsOf(status).includes('error')) {
      const doc = await getOutputJson<ErrorDocument>(status.id, 'error');
      replaceChildren(
        into,
        h(
          'section',
          { class: 'failure' },
          h('h3', {}, 'What happened'),
          h('p', {}, doc.message),
          h('p', { class: 'remedy' }, doc.remedy),
        ),
      );
    }
  } catch (error) {
    into.append(errorBox(error));
  }
}

export function renderMatch(root: HTMLElement, id: string): () => void {
  const top = h('div', { class: 'match-top' }, h('p', { class: 'loading' }, 'Loading the match…'));
  const outcome = h('div', { class: 'outcome' });
  const message = h('div', { class: 'message' });
  replaceChildren(root, h('p', {}, h('a', { href: '#/' }, '← All matches')), message, top, outcome);
  const seen = new Map<string, string>();
  let lastSeen: StepPhase | null = null;
  const poller = poll(
    async () => {
      const status = await getMatch(id);
      if (status.phase && !seen.has(status.phase)) seen.set(status.phase, new Date().toISOString());
      if (isActive(status) && status.phase) lastSeen = status.phase as StepPhase;
      replaceChildren(message);
      replaceChildren(top, header(status), timeline(status, seen, lastSeen), downloads(status));
      if (isActive(status)) return POLL_INTERVAL_MS;
      await outcomeSections(status, outcome);
      return null;
    },
    (error) => replaceChildren(message, errorBox(error)),
  );
  return () => poller.stop();
}
