/**
 * GEM's two job types, defined once. Settings (`DEFAULT_JOB_TYPE`), the HTTP API, the TomTom client, the
 * validator and the workflow contract all name them, so they sit on the ground floor of shared/ where each of
 * those can import them without importing one another.
 */

export const JOB_TYPES = ['ROAD_MATCHING', 'LANE_LEVEL_MATCHING'] as const;

export type JobType = (typeof JOB_TYPES)[number];
