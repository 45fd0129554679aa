export * from './apiKeyProvider.js';
export * from './secret.js';
export * from './tokenCredential.js';
