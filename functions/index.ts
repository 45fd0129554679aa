/**
 * The app entry (package.json "main"). Each module registers its functions when imported; the order below is
 * the order they appear in the host's function list.
 */
import './setup.js';
import './telemetry.js';
import './matchFile.js';
import './matchPart.js';
import './listStorages.js';
import './uploads.js';
import './sweep.js';
import './retention.js';
import './http/matches.js';
import './http/storages.js';
import './http/health.js';
import './http/openapi.js';
import './http/results.js';
import './http/ui.js';
