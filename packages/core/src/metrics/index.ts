export * from './queueDepth.js';
export * from './registerStateGauges.js';
