import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';

export type Resource<T> = {
  data: T | undefined;
  error: { code: string; message: string } | null;
  reload: () => void;
};

/** How often data that the state stream does not announce (heartbeats, queues, runs) is read again. */
const BACKGROUND_REFRESH_MS = 5_000;

/**
 * Data read from the api, read again whenever one of `keys` changes (the live state's identity, a filter) and every
 * `intervalMs` (BACKGROUND_REFRESH_MS by default). An answer that arrives after a newer request started is dropped.
 */
export const useResource = <T>(read: () => Promise<T>, keys: readonly unknown[], intervalMs = BACKGROUND_REFRESH_MS): Resource<T> => {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const generation = useRef(0);
  const readRef = useRef(read);
  readRef.current = read;

  const reload = useCallback(() => {
    generation.current += 1;
    const mine = generation.current;
    readRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(null);
      },
      (failure: unknown) => {
        if (mine === generation.current) setError(describeError(failure));
      },
    );
  }, []);

  useEffect(() => {
    reload();
    const timer = setInterval(reload, intervalMs);
    return () => clearInterval(timer);
  }, keys);

  return { data, error, reload };
};
