# Airmail: serve the pipelines of /app/configs (mount your own over it).
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY engine engine
COPY operators operators
COPY registry-client registry-client
COPY loadtest loadtest
COPY scripts scripts
COPY bin bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# /app is root's and read-only to the server; what it writes goes to /var/lib/airmail (the audit log,
# which defaults to ./airmail-audit.jsonl once AIRMAIL_ADMIN_TOKEN is set and would stop the server
# at start, and downloaded registry artifacts) and to /tmp (pinned model copies).
ENV NODE_ENV=production PORT=8080 \
    AIRMAIL_AUDIT_LOG=/var/lib/airmail/audit.jsonl AIRMAIL_CACHE=/var/lib/airmail/artifacts
RUN mkdir -p /var/lib/airmail && chown node:node /var/lib/airmail
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY package.json ./
COPY configs configs
USER node
EXPOSE 8080
HEALTHCHECK CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/airmail.mjs", "serve", "--configs", "/app/configs"]
