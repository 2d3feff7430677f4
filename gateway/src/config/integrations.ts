import { bool, int, nullable, section, str, type Check } from './checks.js';

/** Home Assistant MQTT discovery (gateway/src/integrations/homeassistant/HOMEASSISTANT.md). */
export interface HomeAssistantConfig {
  /** Publish discovery and state. Default false. */
  enabled: boolean;
  /**
   * `mqtt://host:1883` (or `mqtts://`) of the broker Home Assistant uses, usually its own
   * Mosquitto. null (default): the gateway's own broker, where Home Assistant logs in as an app
   * (`fieldmesh gateway add-app`).
   */
  url: string | null;
  /** Login at that broker; null: anonymous. */
  username: string | null;
  password: string | null;
  /** Home Assistant's discovery prefix. Default `homeassistant` (its own default). */
  discoveryPrefix: string;
  /**
   * Ms without a reading after which a series is retired: its entity is removed from Home
   * Assistant (and a device with no series left, with an empty retained config). Default 7 days;
   * 0 = never.
   */
  retireAfterMs: number;
}

export interface IntegrationsConfig {
  homeassistant: HomeAssistantConfig;
}

export const homeAssistantDefaults: HomeAssistantConfig = {
  enabled: false,
  url: null,
  username: null,
  password: null,
  discoveryPrefix: 'homeassistant',
  retireAfterMs: 7 * 86_400_000,
};

export const integrationsDefaults: IntegrationsConfig = { homeassistant: homeAssistantDefaults };

export const checkIntegrations: Check<IntegrationsConfig> = section<IntegrationsConfig>(
  {
    homeassistant: section<HomeAssistantConfig>(
      {
        enabled: bool,
        url: nullable(str({ pattern: /^mqtts?:\/\/[^/\s]+$/, hint: 'mqtt://host:1883 or mqtts://host:8883' })),
        username: nullable(str({ max: 256 })),
        password: nullable(str({ max: 1024 })),
        discoveryPrefix: str({ pattern: /^[A-Za-z0-9_-]{1,64}$/, hint: 'a topic level of letters, digits, _ and - (Home Assistant default: homeassistant)' }),
        retireAfterMs: int(0, 365 * 86_400_000),
      },
      homeAssistantDefaults,
    ),
  },
  integrationsDefaults,
);
