export * from './apiKeyProvider.js';
export * from './tokenCredential.js';
