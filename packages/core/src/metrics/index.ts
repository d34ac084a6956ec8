export {
  readQueueDepths,
} from './queueDepth.js';
export {
  registerStateGauges,
  STATE_GAUGE_NAMES,
} from './registerStateGauges.js';
