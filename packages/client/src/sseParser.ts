export type SseEvent = { event: string; id: string | undefined; data: string };

/**
 * An incremental parser of `text/event-stream` (the WHATWG rules: `field: value` lines, `:` comments, an empty line
 * dispatches the event). Feed it chunks as they arrive.
 */
export const createSseParser = (onEvent: (event: SseEvent) => void) => {
  let buffer = '';
  let event = '';
  let id: string | undefined;
  let data: string[] = [];
  return (chunk: string): void => {
    buffer += chunk;
    for (let newline = buffer.search(/\r\n|\n|\r/); newline >= 0; newline = buffer.search(/\r\n|\n|\r/)) {
      // A CR at the end of a chunk may be the first half of a CRLF split across chunks: wait for the next one.
      if (newline === buffer.length - 1 && buffer.endsWith('\r')) break;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) onEvent({ event: event === '' ? 'message' : event, id, data: data.join('\n') });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  };
};
