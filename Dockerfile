# pgscope as a service: built once, run as the unprivileged user `node` with `node dist/index.js`.
#   docker build -t pgscope .
#   docker run -p 127.0.0.1:4000:4000 -e DATABASE_URL=postgresql://... -e PGSCOPE_READ_TOKEN=... pgscope
# compose.yaml runs it beside a PostgreSQL with pg_stat_statements and the demo data.
# Without DATABASE_URL the container starts the embedded demo database in /data (a volume keeps it).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# Listening on every interface inside the container: pgscope refuses that at start without
# PGSCOPE_READ_TOKEN (or PGSCOPE_ALLOW_ANONYMOUS_READS=true), as it does outside one.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 PGSCOPE_EMBEDDED_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY demo ./demo
COPY migrations ./migrations
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 4000
# /ready: 200 once the database answers (see the README, "API"); /health would only say the process runs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/index.js"]
