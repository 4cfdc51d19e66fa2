# syntax=docker/dockerfile:1

# Build: ES modules with every dependency inside (scripts/bundle.ts: schemaops.mjs, the chunks it imports and
# libpg-query's WASM, alone in /src/out), from the locked dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
RUN node scripts/bundle.ts /src/out/schemaops.mjs
# squawk (the lock-safety linter behind workload.scaleDown: Auto): the binary npm ci installed for this platform.
RUN mkdir -p /src/squawk && \
    cp "node_modules/@squawk-cli/$(node -p 'process.platform + "-" + process.arch')/bin/squawk" /src/squawk/squawk && \
    /src/squawk/squawk --version

# Runtime: Node 24, the bundle (all of /src/out) and squawk, owned by root and run as an unprivileged user; no
# node_modules.
# Nothing is written outside /tmp (mount an emptyDir there), so a read-only root filesystem works.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# Memory: a bounded heap keeps RSS near what is live, and two malloc arenas keep glibc from holding
# freed memory per thread. bench/operator.ts reads these two lines and runs the operator with them.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2"
ENV MALLOC_ARENA_MAX=2
# Without it the operator finds no linter and scaleDown: Auto scales every plan down.
ENV SCHEMAOPS_SQUAWK=/usr/local/bin/squawk
WORKDIR /app
COPY --from=build /src/out/ ./
COPY --from=build /src/squawk/squawk /usr/local/bin/squawk
COPY LICENSE ./
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "schemaops.mjs"]
CMD ["operator"]
