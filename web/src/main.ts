/**
 * The results page: asks for the function key once, then shows the matches list (`#/`), one match
 * (`#/match/<id>`) or the API explorer (`#/api`), routed by the URL's fragment so the app serves one page.
 */
import './styles.css';
import { forgetKey, storedKey, whenUnauthorized } from './api.js';
import { h } from './dom.js';
import { renderApiExplorer } from './views/apiExplorer.js';
import { renderKeyForm } from './views/keyForm.js';
import { renderList } from './views/list.js';
import { renderMatch } from './views/match.js';

const main = document.getElementById('main') as HTMLElement;
let leave: () => void = () => {};

function route(): void {
  leave();
  leave = () => {};
  if (!storedKey()) {
    renderKeyForm(main, route);
    return;
  }
  const hash = window.location.hash.replace(/^#\/?/, '');
  const match = /^match\/(.+)$/.exec(hash);
  if (match) leave = renderMatch(main, decodeURIComponent(match[1]!));
  else if (hash === 'api') leave = renderApiExplorer(main);
  else leave = renderList(main);
  document.querySelectorAll('nav.top a').forEach((a) => {
    a.classList.toggle('current', a.getAttribute('href') === (hash === 'api' ? '#/api' : '#/'));
  });
}

function topBar(): HTMLElement {
  const forget = h('button', { type: 'button', class: 'forget-key' }, 'Forget key');
  forget.addEventListener('click', () => {
    forgetKey();
    route();
  });
  return h(
    'nav',
    { class: 'top' },
    h('strong', { class: 'brand' }, 'gem-flow'),
    h('a', { href: '#/' }, 'Matches'),
    h('a', { href: '#/api' }, 'API'),
    forget,
  );
}

whenUnauthorized(() => {
  leave();
  leave = () => {};
  renderKeyForm(main, route, 'The app refused the key: enter it again.');
});
document.getElementById('top')?.replaceWith(topBar());
window.addEventListener('hashchange', route);
route();
