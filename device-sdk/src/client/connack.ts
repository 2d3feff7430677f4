/**
 * What a refused CONNECT means, said from the device's side. An MQTT 3.1.1 CONNACK carries only
 * a return code (§3.2.2.3), not the broker's reason, so the device client turns the code into
 * the fix for a fieldmesh gateway, which refuses with: 2 for a client id that is not the device
 * id (or `<device id>:<suffix>`), 4 for a wrong or missing username/password, 5 for a login that
 * is valid but not allowed.
 */
export function connackRefusal(code: number, device: string): string | undefined {
  switch (code) {
    case 1:
      return `the gateway refused the protocol version (CONNACK 1): the device client speaks MQTT 3.1.1`;
    case 2:
      return `the gateway refused client id ${JSON.stringify(device)} (CONNACK 2, identifier rejected): the MQTT client id must be the device id, the same as the username (or "${device}:<suffix>" for a second connection)`;
    case 3:
      return `the gateway is not available (CONNACK 3): it is starting or stopping; the client retries`;
    case 4:
      return `the gateway refused the login of device ${JSON.stringify(device)} (CONNACK 4, bad username or password): the username is the device id and the password is the one \`fieldmesh gateway add-device ${device}\` printed (--rotate issues a new one)`;
    case 5:
      return `the gateway refused device ${JSON.stringify(device)} (CONNACK 5, not authorized): it has no credentials there; run \`fieldmesh gateway add-device ${device}\` on the gateway`;
    default:
      return undefined;
  }
}
