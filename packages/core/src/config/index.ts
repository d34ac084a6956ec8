export { loadConfig, loadConfigOrExit, type Config, type NotificationSettings, type ServiceName } from './loadConfig.js';
export { parseGovernanceTokens, type GovernanceToken } from './parseGovernanceTokens.js';
export { parseRoleTokens } from './parseRoleTokens.js';
export { type RedisEndpoint, type RedisTopology } from './redisTopology.js';
export { ROLES, ROLE_TOKEN_VARIABLES, type Role, type RoleToken } from './roles.js';
