/**
 * The page's two large parts, the map and the API explorer, are bundles of their own, loaded only when a
 * view needs them. The build names their files in `data-*` attributes of the page's `<body>` (content-hashed
 * names the script cannot know in advance); their stylesheets are linked when they load.
 */
type MapModule = typeof import('./map.js');
type SwaggerModule = typeof import('./swagger.js');

const loaded = new Map<string, Promise<unknown>>();

function linkStylesheet(href: string | undefined): void {
  if (!href || document.querySelector(`link[href="${CSS.escape(href)}"]`)) return;
  document.head.appendChild(Object.assign(document.createElement('link'), { rel: 'stylesheet', href }));
}

function load<T>(name: 'map' | 'swagger'): Promise<T> {
  const { [`${name}Js`]: script, [`${name}Css`]: style } = document.body.dataset;
  if (!script) return Promise.reject(new Error(`The page was built without its ${name} bundle.`));
  linkStylesheet(style);
  let module = loaded.get(script);
  if (!module) {
    module = import(script);
    loaded.set(script, module);
  }
  return module as Promise<T>;
}

export const loadMap = (): Promise<MapModule> => load<MapModule>('map');
export const loadSwagger = (): Promise<SwaggerModule> => load<SwaggerModule>('swagger');
