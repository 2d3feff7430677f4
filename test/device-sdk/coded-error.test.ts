import { describe, expect, it } from 'vitest';
import { CodedError, codedErrorClass, codedMessage, keyedErrorClass } from '@fieldmesh/device-sdk/coded-error';

const CATALOG = {
  FM_ERR_TEST_A: { meaning: 'a went wrong', howToSolve: 'Do A.' },
  FM_ERR_TEST_B: { meaning: 'b went wrong', howToSolve: 'do B' },
} as const;

class TestError extends codedErrorClass('TestError', CATALOG) {}

describe('coded errors', () => {
  it('binds a catalog: code, meaning, how to solve, name and instanceof', () => {
    const err = new TestError('FM_ERR_TEST_B', 'port 70000 is out of range');
    expect(err).toBeInstanceOf(TestError);
    expect(err).toBeInstanceOf(CodedError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TestError');
    expect(err.code).toBe('FM_ERR_TEST_B');
    expect(err.how).toBe('do B');
    expect(err.meaning).toBe('b went wrong');
    expect(err.message).toBe('port 70000 is out of range (FM_ERR_TEST_B: do B)');
    expect(String(err)).toBe('TestError: port 70000 is out of range (FM_ERR_TEST_B: do B)');
  });

  it('has one message format, for subclasses of CodedError too', () => {
    class Keyed extends CodedError<keyof typeof CATALOG> {
      constructor(
        code: keyof typeof CATALOG,
        readonly key: string,
        detail: string,
      ) {
        super(code, CATALOG, `${key}: ${detail}`);
      }
    }
    expect(new Keyed('FM_ERR_TEST_A', 'broker.port', 'bad').message).toBe('broker.port: bad (FM_ERR_TEST_A: Do A.)');
    expect(codedMessage('FM_ERR_TEST_A', 'bad', 'Do A.')).toBe('bad (FM_ERR_TEST_A: Do A.)');
  });

  it('binds a catalog for errors about one key: key first in the message, key, detail and solve kept apart', () => {
    class KeyError extends keyedErrorClass('KeyError', CATALOG) {}
    const err = new KeyError('FM_ERR_TEST_A', 'rules[2].hysteresis', 'must be >= 0');
    expect(err).toBeInstanceOf(CodedError);
    expect(err.name).toBe('KeyError');
    expect(err.message).toBe('rules[2].hysteresis: must be >= 0 (FM_ERR_TEST_A: Do A.)');
    expect([err.key, err.detail, err.solve]).toEqual(['rules[2].hysteresis', 'must be >= 0', 'Do A.']);
  });

  it('keeps the classes of two components apart', () => {
    class OtherError extends codedErrorClass('OtherError', CATALOG) {}
    expect(new OtherError('FM_ERR_TEST_A', 'x')).not.toBeInstanceOf(TestError);
  });
});
