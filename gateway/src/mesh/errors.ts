import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * The mesh's error catalog. Construction and configuration throw a MeshError
 * with one of these codes; code branches on `err.code`, never on the message text.
 */
export const meshErrors = {
  FM_ERR_MESH_CONFIG: {
    meaning: 'A mesh configuration field has a bad value or an unknown key.',
    howToSolve: 'Fix or remove the key named in the message; every field, its unit and default are documented in gateway/src/mesh/config.ts.',
  },
  FM_ERR_MESH_KEY: {
    meaning: 'A cluster key is not 32 bytes (AES-256) or the key ring has no primary key.',
    howToSolve: 'Give a base64 key of exactly 32 bytes, e.g. from `openssl rand -base64 32`; every gateway of one mesh needs the same key.',
  },
  FM_ERR_MESH_KEYRING: {
    meaning: 'A key ring operation was refused (removing the primary key, using a key that is not installed).',
    howToSolve: 'Rotate in order: install the new key on every member, use it as primary everywhere, then remove the old one.',
  },
  FM_ERR_MESH_META_TOO_LARGE: {
    meaning: 'Member metadata encodes to more than 512 bytes.',
    howToSolve: 'Shorten the role, version or tags; metadata must fit a single gossip datagram beside other messages.',
  },
  FM_ERR_MESH_MESSAGE_TOO_LARGE: {
    meaning: 'A message does not fit one 1400-byte datagram.',
    howToSolve: 'This is a programming error in the mesh: member ids are limited to 64 bytes and metadata to 512 so every message fits.',
  },
  FM_ERR_MESH_ID: {
    meaning: 'A member id (its gateway\'s id) is not 1-64 letters, digits, ".", "_" or "-" starting with a letter or digit (protocol/FORMAT.md §1.1).',
    howToSolve: 'Give the gateway an `id` of letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters.',
  },
  FM_ERR_MESH_ADDRESS: {
    meaning: 'An address is not "IPv4:port" or "[IPv6]:port".',
    howToSolve: 'Write seeds and advertise addresses as 10.0.0.2:7946 or [fd00::2]:7946 (a numeric address, not a host name).',
  },
  FM_ERR_MESH_TRANSPORT: {
    meaning: 'The UDP socket could not be bound (port in use, address not on this host).',
    howToSolve: 'Choose a free `mesh.port`, or bind to an address this host owns.',
  },
  FM_ERR_MESH_STATE: {
    meaning: 'The mesh was used in the wrong state (started twice, used after stop).',
    howToSolve: 'Call start() once and stop() once; create a new Mesh to restart.',
  },
} as const;

export type MeshErrorCode = keyof typeof meshErrors;

export class MeshError extends codedErrorClass('MeshError', meshErrors) {}
