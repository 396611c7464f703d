export { CNetworkPlugin } from './plugin.js';
export type { CNetworkOptions } from './options.js';
export type { BannedPairInput, EndpointInput, Endpoint, RuleView } from './rules.js';
export { parseRule } from './rules.js';
export type { ContainerRef } from './container-ips.js';
export type { NetBannedEvent, NetConnectEvent, NetFlowEvent, NetListenEvent, Proto } from './events.js';
export { EVENT_TYPES } from './events.js';
export { formatAddress, parseAddress } from './address.js';
