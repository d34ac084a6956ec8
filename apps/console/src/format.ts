/** Timestamps as operators read them in an incident channel: UTC, to the second. */
export const formatTime = (value: string | null | undefined): string => {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
};

/** "12 s ago", "5 min ago": how fresh a heartbeat or run is. */
export const formatAge = (value: string | null | undefined, now = Date.now()): string => {
  if (value === null || value === undefined) return '—';
  const seconds = Math.max(0, Math.round((now - new Date(value).getTime()) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
};

export const onOff = (value: boolean | undefined, on: string, off: string): string => (value === undefined ? '—' : value ? on : off);
