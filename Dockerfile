# sipbalancer: build with the dev dependencies, run with the production ones as a non-root user.
# docker build -t sipbalancer . && docker run -v $PWD/lb.properties:/etc/sipbalancer/lb.properties --network host sipbalancer
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:26-bookworm-slim
# openssl reads PKCS#12 trust stores at start-up.
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json lb.properties.example ./
COPY config ./config
RUN mkdir -p /etc/sipbalancer && cp lb.properties.example /etc/sipbalancer/lb.properties
USER node
# SIP external/internal (UDP and TCP), TLS, WS, JSON heartbeats, HTTP, statistics, SMPP.
EXPOSE 5060/udp 5060/tcp 5065/udp 5065/tcp 5061/tcp 2610/tcp 2080/tcp 2006/tcp 2776/tcp
ENTRYPOINT ["node", "/app/bin/sipbalancer"]
CMD ["--config", "/etc/sipbalancer/lb.properties", "--log-format", "json"]
