import { describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from './sseParser.js';

const parseAll = (chunks: readonly string[]): SseEvent[] => {
  const events: SseEvent[] = [];
  const feed = createSseParser((event) => events.push(event));
  for (const chunk of chunks) feed(chunk);
  return events;
};

describe('createSseParser', () => {
  it('dispatches on an empty line, with event name, id and data, across arbitrary chunk boundaries', () => {
    const text = 'retry: 1000\n\nevent: state\nid: 7\ndata: {"live":true}\n\n: heartbeat\n\nevent: state\nid: 8-abcdef12\ndata: {"live":false}\n\n';
    const whole = parseAll([text]);
    expect(whole).toEqual([
      { event: 'state', id: '7', data: '{"live":true}' },
      { event: 'state', id: '8-abcdef12', data: '{"live":false}' },
    ]);
    // Byte by byte gives the same events.
    expect(parseAll([...text])).toEqual(whole);
  });

  it('joins multi-line data, accepts CRLF line ends, defaults the event name and keeps the last id', () => {
    expect(parseAll(['data: a\r\ndata: b\r\n\r\nid: 3\ndata:c\n\ndata: d\n\n'])).toEqual([
      { event: 'message', id: undefined, data: 'a\nb' },
      { event: 'message', id: '3', data: 'c' },
      { event: 'message', id: '3', data: 'd' },
    ]);
  });

  it('reads a CRLF split across chunks as one line end', () => {
    const text = 'event: state\r\nid: 4\r\ndata: x\r\n\r\n';
    expect(parseAll([...text])).toEqual([{ event: 'state', id: '4', data: 'x' }]);
  });

  it('dispatches nothing for comments, retry lines or an event without data', () => {
    expect(parseAll([': only a comment\n\nretry: 5\n\nevent: state\n\n'])).toEqual([]);
  });
});
