export * from './client.js';
export * from './errors.js';
export {
  type CredentialHints,
  classifyFailure,
  parseServiceErrorBody,
  type ServiceErrorBody,
} from './failures.js';
export * from './models.js';
export * from './policies.js';
