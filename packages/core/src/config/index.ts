export { loadConfig, loadConfigOrExit, type Config, type ServiceName } from './loadConfig.js';
export { parseGovernanceTokens, type GovernanceToken } from './parseGovernanceTokens.js';
