/** The API tab: Swagger UI over the app's OpenAPI document, with the function key already entered. */
import { storedKey } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { loadSwagger } from '../lazy.js';
import { lazyError } from './common.js';

export function renderApiExplorer(root: HTMLElement): () => void {
  const container = h('div', { class: 'swagger', id: 'swagger' });
  replaceChildren(root, h('h2', {}, 'API'), container);
  loadSwagger()
    .then((module) => module.renderSwagger(container, storedKey() ?? ''))
    .catch((error) => root.append(lazyError('API explorer', error)));
  return () => {};
}
