// Entry point of the TomTom GEM/PDG/Vault simulator used by the local stack and the tests.
// Module map: router (paths → route keys), auth (API key + Entra bearer), pdg (storages and
// credentials), vault (wrapped tokens and unwrap), gem (job requests), jobs (lifecycle on the
// virtual clock), limits (durations and per-user job limits), results (what a job makes of its input),
// validation (GEM input checks), matching (deterministic per-road results and statistics), blobs (storage
// access), faults + admin + requestLog (test control), state (what a restart keeps), server (HTTPS wiring).
import { startSimulatorServer } from './server.js';
import type { SimulatorHandle, SimulatorOptions } from './types.js';

export function startSimulator(options: SimulatorOptions): Promise<SimulatorHandle> {
  return startSimulatorServer(options);
}
