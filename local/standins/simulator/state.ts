// What the simulator keeps across a restart of a persistent stack: its jobs (with their schedule in virtual
// time), the API keys it honours (including keys added or revoked through the admin API), the job limits set
// through the admin API and its request counters. Faults, token revocations, recent-request entries and unused wrapped Vault tokens are test
// controls or single-use, short-lived values and start afresh. The schema checks a saved state before it
// is used, so a state file from another version is refused with a reason, never half applied.
import { z } from 'zod';
import type { SavedJobs } from './jobs.js';
import { jobSettingsPatchSchema } from './limits.js';
import type { RequestCounts } from './requestLog.js';
import { JOB_TYPES, type Product } from './types.js';

export interface SimulatorState extends SavedJobs {
  apiKeys: { key: string; products: Product[] }[];
  requests: RequestCounts;
}

const counter = z.record(z.string(), z.number().int().nonnegative());

const publicJobSchema = z.object({
  job_id: z.number().int().positive(),
  job_type: z.enum(JOB_TYPES),
  overture_release: z.string().optional(),
  orbis_version: z.string().optional(),
  storage_id: z.string(),
  input_filename: z.string(),
  result_filename: z.string().nullable(),
  requested_at: z.string(),
  status: z.enum(['REQUESTED', 'IN_PROGRESS', 'SUCCESS', 'FAILED']),
  statistics: z.record(z.string(), z.number()).nullable(),
  message: z.string().optional(),
});

export const simulatorStateSchema: z.ZodType<SimulatorState> = z.object({
  apiKeys: z.array(z.object({ key: z.string().min(1), products: z.array(z.enum(['pdg', 'gem'])) })),
  jobs: z.array(
    z.object({
      job: publicJobSchema,
      owner: z.string(),
      startAt: z.number(),
      startedAt: z.number().optional(),
      completeAt: z.number().optional(),
      endedAt: z.number().optional(),
      forcedFailure: z.string().optional(),
    }),
  ),
  failNext: z.string().optional(),
  limits: z.object({ overrides: jobSettingsPatchSchema, since: z.number() }).optional(),
  requests: z.object({
    total: z.number().int().nonnegative(),
    byRoute: counter,
    byStatus: counter,
    byCredential: counter,
    byRouteAndStatus: z.record(z.string(), counter),
    // Absent from states saved before refusals were counted.
    byRefusal: counter.optional(),
  }),
});
