// Public option and handle types of the TomTom GEM/PDG/Vault simulator, plus the job shapes it serves.
// The option interface is a contract with the local stack (local/standins/stack.ts); keep it stable.
import type { SimulatorState } from './state.js';

export type Product = 'pdg' | 'gem';

export interface SimulatorClock {
  /** Virtual time, epoch ms. */
  now(): number;
  /** How long to wait in real time for `virtualMs` of virtual time to pass (time scaling). */
  toRealDelayMs(virtualMs: number): number;
}

export interface StorageConfig {
  id: string;
  name: string;
  region?: string;
  /** https://127.0.0.1:<p>/<account>/default/ — returned as data.url by unwrap. */
  containerUrl: string;
  /** SharedKey connection string (https) for the simulator's own reads/writes of that account. */
  blobConnectionString: string;
  servicePrincipal: { tenantId: string; clientId: string; clientSecret: string };
  /** Token `oid`s allowed to use this storage. */
  allowedObjectIds: string[];
}

/**
 * How long a job takes, in virtual time (local/standins/simulator/limits.ts): it stays REQUESTED for `queuedMs`,
 * then runs for its row count ÷ the throughput, but never less than `minRunningMs`. The throughput can be given
 * as `segmentsPerHour` or as `perSegmentMs` (3,600,000 / segments per hour); giving both is allowed only when
 * they agree.
 */
export interface JobDurations {
  /** Virtual ms a job stays REQUESTED. Default 60 s. */
  queuedMs?: number;
  /** Rows (road segments) a job matches per virtual hour. Default 100,000, TomTom's documented throughput. */
  segmentsPerHour?: number;
  /** The same throughput as virtual ms per row (36 = 100,000 per hour). */
  perSegmentMs?: number;
  /** Lower bound on IN_PROGRESS duration in virtual ms. Default 5 min. */
  minRunningMs?: number;
}

/**
 * What one user (a token's `oid`) may hold at once. TomTom documents no limit on concurrent jobs, so every limit
 * defaults to none (null); set them to exercise a client against a service that refuses or queues.
 */
export interface JobLimits {
  /**
   * Jobs a user may have REQUESTED or IN_PROGRESS (queued jobs count); a create beyond answers 429 with a
   * Retry-After. null = no limit.
   */
  maxConcurrentJobsPerUser?: number | null;
  /**
   * Jobs of a user that run at once; later ones are accepted and stay REQUESTED until a running one ends
   * (first come, first served). null = no limit.
   */
  maxRunningJobsPerUser?: number | null;
  /**
   * The Retry-After (seconds) of a refusal; null = computed: the caller's real-time wait until its next job is
   * due to end (virtual time converted by the clock's scale).
   */
  retryAfterSeconds?: number | null;
}

export interface SimulatorOptions {
  tls: { cert: string; key: string };
  /** 0/undefined = dynamic; always listens on 127.0.0.1. */
  port?: number;
  clock: SimulatorClock;
  /** The identity stand-in's public keys (a jose JSONWebKeySet) used to verify bearer tokens. */
  jwks: { keys: object[] };
  /** 'https://gem.core.orbis.tomtom.com' */
  gemAudience: string;
  apiKeys: { key: string; products: Product[] }[];
  storages: StorageConfig[];
  jobDurations?: JobDurations;
  /** Per-user job limits; default none, as TomTom documents none. The admin API changes them at run time. */
  jobLimits?: JobLimits;
  /**
   * A state saved by an earlier run (`snapshot()`): its jobs, keys (instead of `apiKeys`), counters, and the
   * limits set through the admin API (applied over `jobDurations` and `jobLimits`).
   */
  restore?: SimulatorState;
  /**
   * Called after a request that changed the state (a job created, a key added or revoked, a job failed
   * by hand, limits changed, a reset), and awaited before the answer is sent, so a caller holding a job id can count on it
   * having been saved.
   */
  onStateChange?: () => Promise<void>;
}

export interface SimulatorHandle {
  url: string;
  adminUrl: string;
  /** The state to save for a later `restore`. */
  snapshot(): SimulatorState;
  close(): Promise<void>;
}

export type JobType = 'ROAD_MATCHING' | 'LANE_LEVEL_MATCHING';
export const JOB_TYPES: readonly JobType[] = ['ROAD_MATCHING', 'LANE_LEVEL_MATCHING'];
export type JobStatus = 'REQUESTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED';

export interface RoadMatchingStatistics {
  confidence_threshold: number;
  execution_time_sec: number;
  kms_processed: number;
  num_roads_processed: number;
  roads_fully_matched_ratio: number;
  roads_matched_ratio: number;
  roads_partially_matched_ratio: number;
  roads_unmatched_ratio: number;
}

/** The gen B (snake_case) job object as the GEM API returns it. */
export interface PublicJob {
  job_id: number;
  job_type: JobType;
  overture_release?: string;
  orbis_version?: string;
  storage_id: string;
  input_filename: string;
  result_filename: string | null;
  requested_at: string;
  status: JobStatus;
  statistics: RoadMatchingStatistics | Record<string, number> | null;
  /**
   * Set only when FAILED. The real field name is cut off in TomTom's docs; the simulator names it
   * `message` so clients have one concrete field to read (and should tolerate others).
   */
  message?: string;
}

export interface StoredFile {
  name: string;
  size: number;
  uploadedAt: string;
}
