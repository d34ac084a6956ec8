import { Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/**
 * An unlabelled gauge that can have no value. prom-client reports an unlabelled gauge as 0 even after `reset()`;
 * for state read at scrape time 0 would be a lie (live = 0 while the database is merely unreachable), so until
 * `set()` is called, and after `clear()`, the series is left out of the scrape.
 */
export class OptionalGauge extends Gauge {
  private present = false;

  override set(labelsOrValue: Partial<Record<string, string | number>> | number, value?: number): void {
    this.present = true;
    if (typeof labelsOrValue === 'number') super.set(labelsOrValue);
    else super.set(labelsOrValue, value ?? 0);
  }

  clear(): void {
    this.present = false;
    super.reset();
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const metric = await super.get();
    return this.present ? metric : { ...metric, values: [] };
  }
}
