/** One sample of a Prometheus text exposition: `name{label="value",...} number`. */
type Sample = { name: string; labels: Record<string, string>; value: number };

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const parsePrometheusText = (text: string): Sample[] =>
  text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .map((line) => {
      const match = SAMPLE_LINE.exec(line);
      if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key as string] = value as string;
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });

export type Scrape = {
  status: number;
  contentType: string | null;
  samples: Sample[];
  /** The value of the one sample with this name whose labels include `labels`; undefined when absent. */
  value: (name: string, labels?: Record<string, string>) => number | undefined;
  has: (name: string) => boolean;
};

/** GET /metrics on a worker's metrics port. */
export const scrape = async (port: number, host = '127.0.0.1'): Promise<Scrape> => {
  const response = await fetch(`http://${host}:${port}/metrics`);
  const samples = parsePrometheusText(await response.text());
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    samples,
    value: (name, labels = {}) => {
      const found = matching(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    has: (name) => samples.some((s) => s.name === name),
  };
};
