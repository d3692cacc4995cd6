# scopegate: slim image, non-root, `scopegate serve`. Build: docker build -t scopegate:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY gateway ./gateway
COPY admin ./admin
# constraints.txt pins every runtime dependency to the versions the test suite ran against.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home scopegate
COPY --from=build /wheels /wheels
COPY --from=build /src/constraints.txt /tmp/constraints.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels --constraint /tmp/constraints.txt scopegate \
    && rm -rf /wheels /tmp/constraints.txt
COPY config /etc/scopegate
USER scopegate
# 8080 public (listen), 8081 admin (admin_listen, loopback by default), 9090 metrics (metrics_listen, off by default)
EXPOSE 8080 8081 9090
ENV SCOPEGATE_CONFIG=/etc/scopegate/scopegate.yaml
# Asks /readyz on the configured public listener (follows SCOPEGATE_LISTEN and the file's `listen`).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["scopegate", "healthcheck"]
ENTRYPOINT ["scopegate"]
CMD ["serve"]
