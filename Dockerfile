# syntax=docker/dockerfile:1

# ── build: compile TypeScript to dist/ ──────────────────────────────────────
FROM node:20-bookworm-slim AS build
# bufferutil ships no linux-arm64 prebuild; on that platform it compiles with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY contracts ./contracts
COPY consumers ./consumers
COPY src ./src
RUN npm run build

# ── prod-deps: runtime dependencies only (the compiler toolchain stays here) ─
FROM node:20-bookworm-slim AS prod-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# ── runtime ─────────────────────────────────────────────────────────────────
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# node is PID 1 and handles SIGTERM/SIGINT itself (graceful drain, exit 0).
CMD ["node", "dist/src/main.js"]
