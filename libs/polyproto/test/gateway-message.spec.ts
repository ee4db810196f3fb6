import { GATEWAY_CLOSE, gatewayCloseFor, parseClientMessage, PolyprotoError, ReceivedSequences } from '../src';

function refusal(run: () => unknown): { code: string; close: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof PolyprotoError) return { code: error.code, close: gatewayCloseFor(error).code };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseClientMessage', () => {
  it('reads op and numbers as JSON numbers or decimal strings (polyproto-rs writes strings)', () => {
    expect(parseClientMessage('{"n":"core","op":"0","d":{"from":"213","to":"219","except":["214","216"]}}')).toEqual({
      op: 0,
      d: { from: 213, to: 219, except: [214, 216] },
    });
    expect(parseClientMessage('{"n":"core","op":0,"d":{"from":1,"to":2}}')).toEqual({ op: 0, d: { from: 1, to: 2, except: [] } });
    expect(parseClientMessage('{"op":5,"d":{"s":"12","token":"abc"}}')).toEqual({ op: 5, d: { s: 12, token: 'abc' } });
    expect(parseClientMessage('{"n":"core","op":2,"d":{"token":"abc"}}')).toEqual({ op: 2, d: { token: 'abc' } });
  });

  it('takes an empty heartbeat (no d, or d = {}) as confirming nothing', () => {
    expect(parseClientMessage('{"n":"core","op":0}')).toEqual({ op: 0, d: { from: 0, to: 0, except: [] } });
    expect(parseClientMessage('{"n":"core","op":0,"d":{}}')).toEqual({ op: 0, d: { from: 0, to: 0, except: [] } });
  });

  it('reads a service channel request and ignores an invalidation announced by a client', () => {
    expect(parseClientMessage('{"n":"core","op":8,"d":{"action":"subscribe","service":"chat"}}')).toEqual({ op: 8, d: { action: 'subscribe', service: 'chat' } });
    expect(parseClientMessage('{"n":"core","op":4,"d":{"serial":"1"}}')).toEqual({ op: 4 });
  });

  it('refuses op codes a client may not send with 4001 and malformed messages with 4002', () => {
    expect(refusal(() => parseClientMessage('{"n":"core","op":7,"d":[]}'))).toEqual({ code: 'GATEWAY_OPCODE_UNKNOWN', close: 4001 });
    expect(refusal(() => parseClientMessage('{"n":"core","op":99,"d":{}}'))).toEqual({ code: 'GATEWAY_OPCODE_UNKNOWN', close: 4001 });
    for (const text of [
      'not json',
      '[]',
      '{"n":"chat","op":0}',
      '{"n":"core"}',
      '{"n":"core","op":-1}',
      '{"n":"core","op":"1e2"}',
      '{"n":"core","op":2,"d":{}}',
      '{"n":"core","op":2,"d":{"token":""}}',
      `{"n":"core","op":2,"d":{"token":"${'x'.repeat(513)}"}}`,
      '{"n":"core","op":5,"d":{"token":"t"}}',
      '{"n":"core","op":5,"d":{"s":"9007199254740993","token":"t"}}',
      '{"n":"core","op":0,"d":{"from":"1"}}',
      '{"n":"core","op":0,"d":{"from":1,"to":2,"except":"1"}}',
      '{"n":"core","op":0,"d":{"from":1,"to":2,"except":[1.5]}}',
      '{"n":"core","op":8,"d":"subscribe"}',
    ]) {
      expect({ text, ...refusal(() => parseClientMessage(text)) }).toEqual({ text, code: 'GATEWAY_MESSAGE_INVALID', close: 4002 });
    }
  });

  it('lists the close codes of the 2025 text with their resumability', () => {
    expect(GATEWAY_CLOSE.timeout).toEqual({ code: 4009, resumable: true });
    expect(GATEWAY_CLOSE.unresumable).toEqual({ code: 4010, resumable: false });
    expect(GATEWAY_CLOSE.notAuthenticated.resumable).toBe(false);
  });
});

describe('ReceivedSequences', () => {
  it('advances the watermark over a contiguous range and keeps it where something is missing', () => {
    const received = new ReceivedSequences(0);
    expect(received.apply({ from: 1, to: 5, except: [3] }, 5)).toEqual({ confirmedUpTo: 2, resend: [3] });
    // the next interval received the resent 3 and new 6, 7; polyproto-rs lists 4 and 5 as gaps
    expect(received.apply({ from: 3, to: 7, except: [4, 5] }, 7)).toEqual({ confirmedUpTo: 7, resend: [] });
  });

  it('starts at what the client already has and ignores numbers below the watermark', () => {
    const received = new ReceivedSequences(10);
    expect(received.apply({ from: 8, to: 12, except: [9] }, 12)).toEqual({ confirmedUpTo: 12, resend: [] });
    expect(received.confirmedUpTo).toBe(12);
  });

  it('resends an exception as often as it is asked for, until it is confirmed', () => {
    const received = new ReceivedSequences(0);
    expect(received.apply({ from: 1, to: 3, except: [1, 2, 3] }, 3).resend).toEqual([1, 2, 3]);
    expect(received.apply({ from: 1, to: 3, except: [1, 2, 3] }, 3).resend).toEqual([1, 2, 3]);
    expect(received.apply({ from: 2, to: 2, except: [] }, 3)).toEqual({ confirmedUpTo: 0, resend: [] });
    expect(received.apply({ from: 1, to: 3, except: [3] }, 3)).toEqual({ confirmedUpTo: 2, resend: [3] });
  });

  it('confirms nothing for an empty heartbeat', () => {
    const received = new ReceivedSequences(4);
    expect(received.apply({ from: 0, to: 0, except: [] }, 9)).toEqual({ confirmedUpTo: 4, resend: [] });
  });

  it('refuses numbers never sent, an inverted range and exceptions outside it with 4007', () => {
    const received = new ReceivedSequences(0);
    expect(refusal(() => received.apply({ from: 1, to: 6, except: [] }, 5))).toEqual({ code: 'GATEWAY_SEQUENCE_INVALID', close: 4007 });
    expect(refusal(() => received.apply({ from: 3, to: 2, except: [] }, 5))).toEqual({ code: 'GATEWAY_SEQUENCE_INVALID', close: 4007 });
    expect(refusal(() => received.apply({ from: 2, to: 3, except: [1] }, 5))).toEqual({ code: 'GATEWAY_SEQUENCE_INVALID', close: 4007 });
    expect(received.confirmedUpTo).toBe(0);
  });
});
