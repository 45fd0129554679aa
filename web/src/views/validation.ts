/**
 * A validation report as the page shows it: the summary sentence, the count of each rule broken, and a
 * table of the problems listed (row, column, rule, what is wrong, the value, and the fix for the rule).
 */
import { RULE_FIXES } from '../../../shared/parquet/ruleFixes.js';
import { h } from '../dom.js';
import type { ValidationDocument } from '../model/types.js';

export function validationView(report: ValidationDocument): HTMLElement {
  const counts = Object.entries(report.problemCounts).filter(([, n]) => n > 0);
  const fixFor = (rule: string) => (RULE_FIXES as Record<string, string>)[rule] ?? '';
  return h(
    'section',
    { class: 'validation' },
    h('h3', {}, 'Validation report'),
    h('p', { class: 'summary' }, report.summary),
    h(
      'p',
      { class: 'facts' },
      `${report.rowCount} rows declared, ${report.checkedRows} checked. `,
      report.truncated ? `The first ${report.problems.length} problems are listed.` : '',
    ),
    h(
      'ul',
      { class: 'rule-counts' },
      ...counts.map(([rule, n]) => h('li', {}, h('code', {}, rule), ` ${n}`)),
    ),
    h(
      'table',
      { class: 'problems' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Row', 'Column', 'Rule', 'Problem', 'Value', 'Fix'].map((t) => h('th', {}, t))),
      ),
      h(
        'tbody',
        {},
        ...report.problems.map((problem) =>
          h(
            'tr',
            { 'data-rule': problem.rule, 'data-row': problem.row ?? '' },
            h('td', { class: 'row' }, problem.row ?? '—'),
            h('td', {}, problem.column ?? ''),
            h('td', {}, h('code', {}, problem.rule)),
            h('td', {}, problem.message),
            h('td', { class: 'value' }, problem.value ?? ''),
            h('td', { class: 'fix' }, fixFor(problem.rule)),
          ),
        ),
      ),
    ),
    report.notes.length > 0 ? h('ul', { class: 'notes' }, ...report.notes.map((n) => h('li', {}, n))) : null,
  );
}
