# syntax=docker/dockerfile:1

# Build: compile the TypeScript sources to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only, without install scripts (none of them needs one).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
# A bounded heap keeps RSS near what is live (bench/operator.ts measures with the same flags).
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2"
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Runtime: Node 24, the built JS and its dependencies, owned by root and run as an unprivileged user.
# Nothing is written outside /tmp (mount an emptyDir there), so a read-only root filesystem works.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# A bounded heap keeps RSS near what is live (bench/operator.ts measures with the same flags).
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json LICENSE ./
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/main.js"]
CMD ["operator"]
