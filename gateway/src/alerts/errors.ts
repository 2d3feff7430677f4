import { codedErrorClass, detailThenHow } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the alerts component (stable codes; see rules/errors.ts for the pattern). */
export const ALERT_ERRORS = {
  FM_ERR_ALERT_BAD_GATEWAY_ID:
    'The gateway id becomes an MQTT topic level of fm/alerts/<gateway>/…: use 1-64 characters from A-Z a-z 0-9 _ . -',
} as const;

export type AlertErrorCode = keyof typeof ALERT_ERRORS;

export class AlertError extends codedErrorClass('AlertError', ALERT_ERRORS, detailThenHow) {
  readonly solve: string = this.how;
}
