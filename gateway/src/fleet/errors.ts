import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the gateway's fleet agent (FLEET-AGENT.md). What arrives over the uplink is
 * never an error here: a hostile or stale desired state is a counted, reported refusal.
 */
export const fleetErrors = {
  FM_ERR_FLEET_OVERLAY: {
    meaning: 'The config overlay given with --config-overlay is unreadable, not signed by a key in fleet.releaseKeys, replaces a section it may not, or makes the config invalid.',
    howToSolve: 'Publish a new signed config revision (fieldmesh fleet set-config), or remove the overlay link <dataDir>/fleet/config/current to run on the base config.',
  },
  FM_ERR_FLEET_STATE: {
    meaning: 'A fleet state file (<dataDir>/fleet/switch.state or agent.json) or the releases directory cannot be written.',
    howToSolve: 'Give the gateway user write access to <dataDir>/fleet and fleet.releasesDir (the unit lists both in ReadWritePaths), and check the disk is not full or read-only.',
  },
} as const;

export type FleetErrorCode = keyof typeof fleetErrors;

export class FleetError extends codedErrorClass('FleetError', fleetErrors) {}
