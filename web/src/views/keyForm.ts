/**
 * Asks for the function key once per browser tab. The form never submits anywhere (the page's
 * Content-Security-Policy has `form-action 'none'`, and the script handles it): the key is tried against the
 * API, then kept in sessionStorage, which this tab alone can read and which is gone when it closes.
 */
import { keyWorks, storeKey } from '../api.js';
import { h, replaceChildren } from '../dom.js';

export function renderKeyForm(root: HTMLElement, onKey: () => void, reason?: string): void {
  const input = h('input', {
    type: 'password',
    id: 'function-key',
    name: 'function-key',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'key-help',
  });
  const message = h('p', { class: 'message', role: 'status' }, reason ?? '');
  const form = h(
    'form',
    { class: 'key-form', method: 'post', action: '#' },
    h('h2', {}, 'Function key'),
    h(
      'p',
      { id: 'key-help' },
      'The page reads the app’s API with its function key, sent as the x-functions-key header and kept in this tab only. ',
      'Locally: functionKey in .local/stack.json. On Azure: az functionapp keys list --query functionKeys.default.',
    ),
    h('label', { for: 'function-key' }, 'Key '),
    input,
    h('button', { type: 'submit' }, 'Open'),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    message.textContent = 'Checking the key…';
    try {
      if (!(await keyWorks(key))) {
        message.textContent = 'The app refused this key (401). Check that it is this app’s function key.';
        return;
      }
    } catch (error) {
      message.textContent = `The app did not answer: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    storeKey(key);
    onKey();
  });
  replaceChildren(root, form);
  input.focus();
}
