import { OFREPProvider } from '@openfeature/ofrep-provider';
import { ErrorCode, OpenFeature, StandardResolutionReasons, type Client } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, useApi } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { GOVERNANCE_ACTIONS, applyChange, newestAppliedId } from '../live/support.js';

/**
 * The OFREP routes against clients nobody here wrote: OpenFeature's server SDK with its generic OFREP provider, as an
 * application would configure them, over HTTP to a listening api.
 */
const APP = { actor: 'checkout', token: 'app-token-0123456789abcdefghi' } as const;
const env = { APP_TOKENS: `${APP.actor}:${APP.token}` };
// A database per test: each case expects the state changes it makes from a fresh install.
const api = useApi({ perTest: true, env });

let domains = 0;
/** An OpenFeature client of its own domain (the SDK is a process-wide singleton), with the OFREP provider ready. */
const openFeatureClient = async (baseUrl: string, headers: [string, string][] = [['Authorization', `Bearer ${APP.token}`]]): Promise<Client> => {
  domains += 1;
  const domain = `valhalla-test-${domains}`;
  await OpenFeature.setProviderAndWait(domain, new OFREPProvider({ baseUrl, headers }));
  return OpenFeature.getClient(domain);
};
afterEach(async () => {
  await OpenFeature.clearProviders();
});

describe('@openfeature/server-sdk with @openfeature/ofrep-provider against the api', () => {
  it('evaluates every flag with its variant, reason and version, with Bearer and with X-API-Key', async () => {
    const base = await api.current.app.listen({ port: 0, host: '127.0.0.1' });
    const version = await newestAppliedId(api.current.database.pool);
    for (const headers of [[['Authorization', `Bearer ${APP.token}`]], [['X-API-Key', APP.token]]] as [string, string][][]) {
      const client = await openFeatureClient(base, headers);
      const expected = { 'valhalla-live': false, 'valhalla-kill-switch-engaged': true, 'valhalla-go-live-enabled': false, 'valhalla-backend-complete': false };
      for (const [key, value] of Object.entries(expected)) {
        // The default is the opposite of the value: a default returned by mistake would show.
        const details = await client.getBooleanDetails(key, !value, { targetingKey: 'user-1', plan: 'premium' });
        expect(details).toMatchObject({ flagKey: key, value, variant: value ? 'on' : 'off', reason: StandardResolutionReasons.STATIC });
        expect(details.errorCode).toBeUndefined();
        expect(details.flagMetadata).toMatchObject({ version });
        expect(details.flagMetadata.reason).toBeUndefined();
      }
    }
  });

  it('sees an engage at its next evaluation, and a release after it', async () => {
    const pool = api.current.database.pool;
    const base = await api.current.app.listen({ port: 0, host: '127.0.0.1' });
    const client = await openFeatureClient(base);
    const engaged = () => client.getBooleanValue('valhalla-kill-switch-engaged', false);
    expect(await engaged()).toBe(true);
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    await waitFor(async () => !(await engaged()), { description: 'the SDK to see the release' });
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage);
    await waitFor(() => engaged(), { description: 'the SDK to see the engage' });
    const details = await client.getBooleanDetails('valhalla-kill-switch-engaged', false);
    expect(details.flagMetadata.version).toBe(await newestAppliedId(pool));
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'released again' });
    await waitFor(async () => !(await engaged()), { description: 'the SDK to see the release after the engage' });
  });

  it('returns the configured default with an error code for an unknown flag, a wrong type, a refused token and a stopped api, and recovers', async () => {
    // An api of its own, so it can be stopped and started again at the same address.
    let own = await startApi(api.current.database, { env });
    const base = await own.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const client = await openFeatureClient(base);
      expect(await client.getBooleanDetails('valhalla-nope', true)).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND });
      expect(await client.getStringDetails('valhalla-live', 'fallback')).toMatchObject({ value: 'fallback', errorCode: ErrorCode.TYPE_MISMATCH });
      const refused = await openFeatureClient(base, [['Authorization', 'Bearer not-a-configured-token-000']]);
      expect(await refused.getBooleanDetails('valhalla-live', true)).toMatchObject({ value: true, errorCode: ErrorCode.GENERAL });

      await own.close();
      for (const fallback of [false, true]) {
        const details = await client.getBooleanDetails('valhalla-live', fallback);
        expect(details).toMatchObject({ value: fallback, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.GENERAL });
        expect(details.errorMessage).toBeTruthy();
      }

      own = await startApi(api.current.database, { env });
      await own.app.listen({ port: Number(new URL(base).port), host: '127.0.0.1' });
      await waitFor(async () => (await client.getBooleanDetails('valhalla-live', true)).errorCode === undefined, { description: 'the SDK to recover' });
      expect(await client.getBooleanDetails('valhalla-live', true)).toMatchObject({ value: false, variant: 'off' });
    } finally {
      await own.close();
    }
  });
});
