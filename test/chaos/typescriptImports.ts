/**
 * Preloaded by `npm run chaos` (node --import): lets plain Node run the suite's TypeScript as vitest does. Node strips
 * the types itself; this only maps the `.js` specifiers the test sources use (NodeNext style) to the `.ts` file
 * beside them when no `.js` file exists there. Nothing else is resolved differently.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const relative = specifier.startsWith('./') || specifier.startsWith('../');
      if (!relative || !specifier.endsWith('.js') || (error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      return nextResolve(`${specifier.slice(0, -'.js'.length)}.ts`, context);
    }
  },
});
