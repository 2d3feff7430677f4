/*
 * fieldmesh.h — header-only C99 encoder for fm-frame v1 (spec: device-sdk/FORMAT.md).
 *
 * No malloc, no stdio, no floating-point library calls: it writes into buffers the caller owns,
 * so it fits an AVR (ATmega328: 2 KiB RAM) as well as an ESP32. Byte-for-byte identical to the
 * TypeScript encoder on device-sdk/vectors/fm-frame-v1.json (checked by the test suite).
 *
 *   uint8_t body[64], wire[FM_WIRE_SIZE(64)];
 *   fm_frame f;
 *   fm_begin(&f, body, sizeof body, "node1", seq++);
 *   fm_add_i16(&f, "t", 215, -1, 0);   // 21.5 as tenths
 *   fm_add_i8(&f, "h", 40, 0, 0);
 *   size_t n = fm_end(&f, wire, sizeof wire);   // 0 on error (see f.err)
 *   Serial.write(wire, n);
 *
 * Every fm_add_* returns 0 on success, else an FM_E_* code; the first error sticks in f.err and
 * makes fm_end return 0, so a sketch may check once at the end.
 */
#ifndef FIELDMESH_H
#define FIELDMESH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FM_VERSION 1u
/* Largest body, CRC included (FORMAT.md §1). */
#define FM_FRAME_MAX 1024u
/* Wire bytes needed for a body of n bytes: COBS overhead, plus the two 0x00 delimiters. */
#define FM_WIRE_SIZE(n) ((n) + (n) / 254u + 1u + 2u)

#define FM_E_OK 0
#define FM_E_FULL 1     /* the body buffer (or FM_FRAME_MAX) is too small: send fewer readings */
#define FM_E_NAME 2     /* device id or sensor name outside the allowed alphabet or length */
#define FM_E_RANGE 3    /* exponent, count, age or string length out of range */
#define FM_E_DOUBLE 4   /* fm_add_f64 where double is not 64-bit (AVR): use fm_add_f32 */

enum { FM_T_I8 = 0, FM_T_I16 = 1, FM_T_I32 = 2, FM_T_F32 = 3, FM_T_F64 = 4, FM_T_FALSE = 5, FM_T_TRUE = 6, FM_T_STR = 7 };

typedef struct {
  uint8_t *buf;
  size_t cap;
  size_t len;
  size_t count_at;
  int err;
} fm_frame;

static inline int fm__fail(fm_frame *f, int e) {
  if (f->err == FM_E_OK) f->err = e;
  return e;
}

static inline int fm__room(fm_frame *f, size_t k) {
  /* Two bytes stay free for the CRC. */
  size_t cap = f->cap < FM_FRAME_MAX ? f->cap : FM_FRAME_MAX;
  if (f->err != FM_E_OK) return f->err;
  if (cap < 2u || f->len + k > cap - 2u) return fm__fail(f, FM_E_FULL);
  return FM_E_OK;
}

static inline void fm__put(fm_frame *f, uint8_t b) { f->buf[f->len++] = b; }

static inline int fm__id_char(char c, int first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
  return !first && (c == '_' || c == '.' || c == '-');
}

static inline size_t fm__strlen(const char *s, size_t max) {
  size_t n = 0;
  while (n <= max && s[n] != '\0') n++;
  return n;
}

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, unreflected, xorout 0; check("123456789") = 0x29B1. */
static inline uint16_t fm_crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0xFFFFu;
  size_t i;
  int b;
  for (i = 0; i < n; i++) {
    crc ^= (uint16_t)((uint16_t)p[i] << 8);
    for (b = 0; b < 8; b++) crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
  }
  return crc;
}

/* Starts a frame. device may be NULL or "" (the gateway then uses the port's configured device). */
static inline int fm_begin(fm_frame *f, uint8_t *buf, size_t cap, const char *device, uint16_t seq) {
  size_t dlen = device ? fm__strlen(device, 64) : 0, i;
  f->buf = buf;
  f->cap = cap;
  f->len = 0;
  f->count_at = 0;
  f->err = FM_E_OK;
  if (dlen > 64) return fm__fail(f, FM_E_NAME);
  for (i = 0; i < dlen; i++)
    if (!fm__id_char(device[i], i == 0)) return fm__fail(f, FM_E_NAME);
  if (fm__room(f, 6u + dlen)) return f->err;
  fm__put(f, FM_VERSION);
  fm__put(f, 0); /* flags: no base time (fm_set_time sets bit 0) */
  fm__put(f, (uint8_t)dlen);
  for (i = 0; i < dlen; i++) fm__put(f, (uint8_t)device[i]);
  fm__put(f, (uint8_t)(seq >> 8));
  fm__put(f, (uint8_t)(seq & 0xFFu));
  f->count_at = f->len;
  fm__put(f, 0);
  return FM_E_OK;
}

/* Adds the sender's wall clock (ms since the Unix epoch, < 2^48). Call right after fm_begin. */
static inline int fm_set_time(fm_frame *f, uint64_t epoch_ms) {
  int k;
  if (f->err != FM_E_OK) return f->err;
  if (f->buf[f->count_at] != 0 || (f->buf[1] & 1u)) return fm__fail(f, FM_E_RANGE);
  if (epoch_ms >> 48) return fm__fail(f, FM_E_RANGE);
  if (fm__room(f, 6)) return f->err;
  f->buf[1] |= 1u;
  for (k = 5; k >= 0; k--) f->buf[f->count_at + (size_t)(5 - k)] = (uint8_t)(epoch_ms >> (8 * k));
  f->count_at += 6;
  f->len += 6;
  f->buf[f->count_at] = 0;
  return FM_E_OK;
}

/* Head, sensor and age of one reading (FORMAT.md §3), with the canonical index form. */
static inline int fm__head(fm_frame *f, uint8_t type, int exp, const char *sensor, uint32_t age_ms, size_t value_len) {
  size_t slen = fm__strlen(sensor, 127), i, need;
  unsigned idx = 0;
  int is_index = slen >= 1 && slen <= 3 && !(slen > 1 && sensor[0] == '0');
  uint32_t a = age_ms;
  size_t alen = 1;
  if (f->err != FM_E_OK) return f->err;
  if (exp < -8 || exp > 7 || (exp != 0 && type > FM_T_I32)) return fm__fail(f, FM_E_RANGE);
  if (f->buf[f->count_at] == 255u) return fm__fail(f, FM_E_RANGE);
  if (slen == 0 || slen > 127) return fm__fail(f, FM_E_NAME);
  for (i = 0; i < slen; i++) {
    char c = sensor[i];
    if (c >= '0' && c <= '9') idx = idx * 10u + (unsigned)(c - '0');
    else is_index = 0;
    if (!(fm__id_char(c, 0) || c == ':' || (c == '/' && i > 0 && i + 1 < slen && sensor[i - 1] != '/')))
      return fm__fail(f, FM_E_NAME);
  }
  if (is_index && idx > 127u) is_index = 0;
  while (a >= 0x80u) {
    a >>= 7;
    alen++;
  }
  need = 1u + (is_index ? 1u : 1u + slen) + alen + value_len;
  if (fm__room(f, need)) return f->err;
  fm__put(f, (uint8_t)((type << 4) | ((unsigned)exp & 0x0Fu)));
  if (is_index) fm__put(f, (uint8_t)(0x80u | idx));
  else {
    fm__put(f, (uint8_t)slen);
    for (i = 0; i < slen; i++) fm__put(f, (uint8_t)sensor[i]);
  }
  a = age_ms;
  while (a >= 0x80u) {
    fm__put(f, (uint8_t)((a & 0x7Fu) | 0x80u));
    a >>= 7;
  }
  fm__put(f, (uint8_t)a);
  f->buf[f->count_at]++;
  return FM_E_OK;
}

static inline void fm__be(fm_frame *f, uint32_t v, int bytes) {
  int k;
  for (k = bytes - 1; k >= 0; k--) fm__put(f, (uint8_t)(v >> (8 * k)));
}

/* Integer readings: the value is v × 10^exp (exp −8…7), e.g. 215 with exp −1 is 21.5. */
static inline int fm_add_i8(fm_frame *f, const char *sensor, int8_t v, int exp, uint32_t age_ms) {
  if (fm__head(f, FM_T_I8, exp, sensor, age_ms, 1)) return f->err;
  fm__be(f, (uint32_t)(uint8_t)v, 1);
  return FM_E_OK;
}
static inline int fm_add_i16(fm_frame *f, const char *sensor, int16_t v, int exp, uint32_t age_ms) {
  if (fm__head(f, FM_T_I16, exp, sensor, age_ms, 2)) return f->err;
  fm__be(f, (uint32_t)(uint16_t)v, 2);
  return FM_E_OK;
}
static inline int fm_add_i32(fm_frame *f, const char *sensor, int32_t v, int exp, uint32_t age_ms) {
  if (fm__head(f, FM_T_I32, exp, sensor, age_ms, 4)) return f->err;
  fm__be(f, (uint32_t)v, 4);
  return FM_E_OK;
}
static inline int fm_add_f32(fm_frame *f, const char *sensor, float v, uint32_t age_ms) {
  uint32_t bits;
  memcpy(&bits, &v, 4); /* assumes IEEE 754 float, true of AVR, ESP32, ARM and x86 */
  if (fm__head(f, FM_T_F32, 0, sensor, age_ms, 4)) return f->err;
  fm__be(f, bits, 4);
  return FM_E_OK;
}
static inline int fm_add_f64(fm_frame *f, const char *sensor, double v, uint32_t age_ms) {
  uint8_t raw[8];
  int k;
  if (sizeof(double) != 8) return fm__fail(f, FM_E_DOUBLE); /* AVR double is 32-bit */
  memcpy(raw, &v, 8);
  if (fm__head(f, FM_T_F64, 0, sensor, age_ms, 8)) return f->err;
  {
    const uint16_t probe = 1;
    int little = *(const uint8_t *)&probe == 1;
    for (k = 0; k < 8; k++) fm__put(f, raw[little ? 7 - k : k]);
  }
  return FM_E_OK;
}
static inline int fm_add_bool(fm_frame *f, const char *sensor, int v, uint32_t age_ms) {
  return fm__head(f, v ? FM_T_TRUE : FM_T_FALSE, 0, sensor, age_ms, 0);
}
/* s: UTF-8, NUL-terminated, at most 255 bytes. */
static inline int fm_add_str(fm_frame *f, const char *sensor, const char *s, uint32_t age_ms) {
  size_t n = fm__strlen(s, 255), i;
  if (n > 255u) return fm__fail(f, FM_E_RANGE);
  if (fm__head(f, FM_T_STR, 0, sensor, age_ms, 1u + n)) return f->err;
  fm__put(f, (uint8_t)n);
  for (i = 0; i < n; i++) fm__put(f, (uint8_t)s[i]);
  return FM_E_OK;
}

/*
 * Appends the CRC and writes 0x00, COBS(body), 0x00 into wire (FM_WIRE_SIZE(body length) bytes
 * suffice). Returns the number of wire bytes, or 0 when an error happened (f->err says which).
 */
static inline size_t fm_end(fm_frame *f, uint8_t *wire, size_t wire_cap) {
  uint16_t crc;
  size_t i, o, code_at;
  uint8_t code;
  if (f->err != FM_E_OK) return 0;
  crc = fm_crc16(f->buf, f->len);
  f->buf[f->len++] = (uint8_t)(crc >> 8);
  f->buf[f->len++] = (uint8_t)(crc & 0xFFu);
  if (wire_cap < FM_WIRE_SIZE(f->len)) {
    f->len -= 2;
    fm__fail(f, FM_E_FULL);
    return 0;
  }
  wire[0] = 0;
  code_at = 1;
  o = 2;
  code = 1;
  for (i = 0; i < f->len; i++) {
    if (f->buf[i] == 0) {
      wire[code_at] = code;
      code_at = o++;
      code = 1;
    } else {
      wire[o++] = f->buf[i];
      if (++code == 0xFFu) {
        wire[code_at] = code;
        code_at = o++;
        code = 1;
      }
    }
  }
  wire[code_at] = code;
  wire[o++] = 0;
  f->len -= 2; /* the body stays reusable: a caller may resend it */
  return o;
}

#endif /* FIELDMESH_H */
