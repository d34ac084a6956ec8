export * from './storableText.js';
export * from './payloads.js';
export * from './jobContract.js';
export * from './parseJobPayload.js';
export * from './jobFailure.js';
export * from './retryPolicy.js';
export * from './limits.js';
export * from './changeRejection.js';
