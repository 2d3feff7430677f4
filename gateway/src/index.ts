// The package entry (`@fieldmesh/gateway`): the daemon and its config, for a program that embeds a
// gateway. The `fieldmesh` CLI (bin/, src/cli/) is this package's composition root; nothing else
// of the gateway is offered to other packages.
export { Gateway, type GatewayDeps, type GatewayUplink, type StartedGateway } from './gateway.js';
export * from './config/index.js';
