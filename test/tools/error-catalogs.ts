import type { ComponentErrors } from '../../device-sdk/src/coded-error.js';
import { clientErrors } from '../../device-sdk/src/client/errors.js';
import { frameErrors } from '../../device-sdk/src/frame/errors.js';
import { SENML_ERRORS } from '../../device-sdk/src/senml/errors.js';
import { protocolErrors } from '../../protocol/src/errors.js';
import { IMAGE_ERRORS } from '../../hardware/src/image/errors.js';
import { sensorErrors } from '../../hardware/src/sensors/errors.js';
import { ALERT_ERRORS } from '../../gateway/src/alerts/errors.js';
import { CONFIG_ERRORS } from '../../gateway/src/config/errors.js';
import { HTTP_ERRORS } from '../../gateway/src/http/errors.js';
import { BROKER_ERRORS, INGEST_ERRORS } from '../../gateway/src/ingest/errors.js';
import { modbusErrors } from '../../gateway/src/ingest/modbus/errors.js';
import { serialErrors } from '../../gateway/src/ingest/serial/errors.js';
import { meshErrors } from '../../gateway/src/mesh/errors.js';
import { QUERY_ERRORS } from '../../gateway/src/query/errors.js';
import { relayErrors } from '../../gateway/src/relay/errors.js';
import { fleetErrors } from '../../gateway/src/fleet/errors.js';
import { ROLLUP_ERRORS } from '../../gateway/src/rollups/errors.js';
import { RULE_ERRORS } from '../../gateway/src/rules/errors.js';
import { STORE_ERRORS } from '../../gateway/src/store/errors.js';
import { uplinkErrors } from '../../gateway/src/uplink/errors.js';
import { cliErrors } from '../../gateway/src/cli/errors.js';
import { CLOUD_ERRORS } from '../../cloud-bridge/src/errors.js';
import { CLOUD_HTTP_ERRORS } from '../../cloud-bridge/src/http/errors.js';
import { LIVE_ERRORS } from '../../cloud-bridge/src/live/errors.js';

/**
 * Every component's error catalog, in the order docs/ERRORS.md lists them (the device side
 * first, then the wire, the gateway, the cloud). A new catalog is added here; the errors-doc test
 * fails while any `FM_ERR_…` code in the tree is in none of them.
 */
export const ERROR_CATALOGS: readonly ComponentErrors[] = [
  { component: 'device-sdk/senml', reportedBy: 'SenmlError', catalog: SENML_ERRORS },
  { component: 'device-sdk/frame', reportedBy: 'FrameEncodeError; the frame decoder counts the rest as rejections', catalog: frameErrors },
  { component: 'device-sdk/client', reportedBy: 'DeviceClientError', catalog: clientErrors },
  { component: 'protocol', reportedBy: 'ProtocolError; nacks carry the code', catalog: protocolErrors },
  { component: 'hardware/sensors', reportedBy: 'SensorProfileError', catalog: sensorErrors },
  { component: 'hardware/image', reportedBy: 'ImageError', catalog: IMAGE_ERRORS },
  { component: 'gateway/config', reportedBy: 'ConfigError', catalog: CONFIG_ERRORS },
  { component: 'gateway/ingest', reportedBy: 'IngestError; rejection notices on fm/d/<device>/rejected', catalog: INGEST_ERRORS },
  { component: 'gateway/ingest (broker)', reportedBy: 'BrokerError', catalog: BROKER_ERRORS },
  { component: 'gateway/ingest/serial', reportedBy: 'SerialIngestError; port faults in the log and stats()', catalog: serialErrors },
  { component: 'gateway/ingest/modbus', reportedBy: 'ModbusError; bus faults in the log and stats()', catalog: modbusErrors },
  { component: 'gateway/store', reportedBy: 'StoreError', catalog: STORE_ERRORS },
  { component: 'gateway/rules', reportedBy: 'RuleError', catalog: RULE_ERRORS },
  { component: 'gateway/rollups', reportedBy: 'RollupError', catalog: ROLLUP_ERRORS },
  { component: 'gateway/alerts', reportedBy: 'AlertError', catalog: ALERT_ERRORS },
  { component: 'gateway/query', reportedBy: 'QueryError; HTTP bodies `{ error: code, reason }`', catalog: QUERY_ERRORS },
  { component: 'gateway/http', reportedBy: 'HttpError; HTTP bodies `{ error: code, reason }`', catalog: HTTP_ERRORS },
  { component: 'gateway/uplink', reportedBy: 'UplinkError', catalog: uplinkErrors },
  { component: 'gateway/mesh', reportedBy: 'MeshError', catalog: meshErrors },
  { component: 'gateway/relay', reportedBy: 'RelayError; refusals and close reasons on relay connections', catalog: relayErrors },
  { component: 'gateway/fleet', reportedBy: 'FleetError; refusals of desired state are reported upstream and counted, never thrown', catalog: fleetErrors },
  { component: 'gateway/cli', reportedBy: 'CliError, on stderr with a non-zero exit', catalog: cliErrors },
  { component: 'cloud-bridge', reportedBy: 'CloudError; nacks carry the code', catalog: CLOUD_ERRORS },
  { component: 'cloud-bridge/http', reportedBy: 'CloudHttpError; HTTP bodies `{ error, code }`', catalog: CLOUD_HTTP_ERRORS },
  { component: 'cloud-bridge/live', reportedBy: 'LiveError', catalog: LIVE_ERRORS },
];
