/**
 * The map of a match (its own bundle, loaded when a match page has roads to draw): the user's roads coloured
 * by match — full, partial, unmatched — on a blank background, with no tiles, so it works offline and behind
 * any firewall. A click on a road shows its GERS id and confidence. Drawn with Leaflet: as SVG paths for up
 * to a few thousand roads (each a DOM element), on a canvas beyond that.
 */
import 'leaflet/dist/leaflet.css';
import L from 'leaflet';
import { h } from './dom.js';
import type { MatchMapResponse } from './model/types.js';

type Feature = MatchMapResponse['features'][number];

/** Above this many roads one canvas draws them all, faster than one SVG element each. */
const CANVAS_FROM_FEATURES = 5_000;

export const MATCH_COLOURS: Record<string, string> = {
  full: '#1a7f37',
  partial: '#d4760a',
  unmatched: '#b3261e',
};

function popup(feature: Feature): HTMLElement {
  const p = feature.properties;
  return h(
    'dl',
    { class: 'road-popup', 'data-index': p.index },
    h('dt', {}, 'Road'),
    h('dd', {}, String(p.id ?? `row ${p.index}`)),
    h('dt', {}, 'Match'),
    h('dd', { class: `kind ${p.match}` }, p.match),
    h('dt', {}, 'GERS id'),
    h('dd', { class: 'gers' }, p.gers ?? '—'),
    h('dt', {}, 'Confidence'),
    h('dd', { class: 'confidence' }, p.confidence === null ? '—' : String(p.confidence)),
    h('dt', {}, 'Matches'),
    h('dd', {}, String(p.match_count)),
  );
}

/** Draws the roads into `container`; answers how many were drawn. */
export function renderMap(container: HTMLElement, data: MatchMapResponse): { drawn: number } {
  const canvas = data.features.length > CANVAS_FROM_FEATURES;
  const map = L.map(container, { preferCanvas: canvas, attributionControl: false, zoomSnap: 0.25 });
  let drawn = 0;
  const layer = L.geoJSON(data as unknown as GeoJSON.FeatureCollection, {
    style: (feature) => ({
      color: MATCH_COLOURS[(feature as unknown as Feature).properties.match] ?? '#555',
      weight: 3,
      opacity: 0.9,
    }),
    onEachFeature: (feature, road) => {
      drawn++;
      road.bindPopup(() => popup(feature as unknown as Feature));
    },
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
  else map.setView([0, 0], 2);
  container.dataset.features = String(drawn);
  container.dataset.renderer = canvas ? 'canvas' : 'svg';
  return { drawn };
}
