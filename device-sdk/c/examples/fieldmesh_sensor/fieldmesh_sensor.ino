// fieldmesh_sensor: sends a temperature, a humidity and the uptime as fm-frames every 5 s.
// Wire the board's TX to the gateway's serial port (or a USB cable to a bridge running
// `fieldmesh-bridge --port /dev/ttyUSB0 --gateway mqtt://gateway:1883`). Copy
// device-sdk/c/fieldmesh.h next to this sketch. Fits an Arduino Uno (ATmega328).
#include "fieldmesh.h"

static uint8_t body[64];
static uint8_t wire[FM_WIRE_SIZE(64)];
static uint16_t seq = 0;

void setup() {
  Serial.begin(115200);
}

void loop() {
  // A real sketch reads a sensor here; tenths of a degree keep the value an i16 (2 bytes).
  int16_t tenths = 215 + (int16_t)(millis() / 1000 % 20);
  fm_frame f;
  fm_begin(&f, body, sizeof body, "uno-1", seq++);
  fm_add_i16(&f, "t", tenths, -1, 0);
  fm_add_i8(&f, "h", 40, 0, 0);
  fm_add_i32(&f, "uptime", (int32_t)(millis() / 1000), 0, 0);
  size_t n = fm_end(&f, wire, sizeof wire);
  if (n > 0) Serial.write(wire, n);  // f.err != FM_E_OK means: fewer readings, or a bigger body
  delay(5000);
}
