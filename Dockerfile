# syntax=docker/dockerfile:1
#
# One image for every production process of the monorepo:
#   api (default CMD)  node apps/api/dist/main.js
#   worker             node apps/worker/dist/main.js
#   migrations         node apps/cli/dist/migrate.js up
# Processes start with `node` directly, never through `npm run`: npm does not pass SIGTERM on, so the app
# would be orphaned and could not drain (docs/architecture.md, shutdown).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies (TypeScript, turbo), compile every workspace ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
# Every workspace's manifest first (npm ci needs them all), so the dependency layer is cached until a manifest or the lockfile changes.
COPY package.json package-lock.json ./
COPY packages/contract/package.json packages/contract/
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/console/package.json apps/console/
RUN npm ci --include=dev --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json turbo.json ./
COPY packages/contract packages/contract
COPY packages/core packages/core
COPY packages/client packages/client
COPY apps/api apps/api
COPY apps/worker apps/worker
COPY apps/cli apps/cli
COPY apps/console apps/console
RUN npm run build

# ---- runtime: production dependencies only, built output, migrations, non-root ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PORT=3000
COPY package.json package-lock.json ./
COPY packages/contract/package.json packages/contract/
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/console/package.json apps/console/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/packages/contract/dist packages/contract/dist
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/apps/cli/dist apps/cli/dist
# The console's static files, served by the api at /console.
COPY --from=build /app/apps/console/dist apps/console/dist
COPY migrations migrations
# Files stay owned by root (read-only for the app); the processes run as the image's unprivileged `node` user.
USER node
EXPOSE 3000
CMD ["node", "--max-semi-space-size=2", "--max-old-space-size=160", "apps/api/dist/main.js"]
