"""ModelOpsCoordinator (demo). In the fleet it listens on 7211/7212 with REST health on 8008 inside the container (family-llm-cu121).

Ports (env var = default): SERVICE_PORT=7211, HEALTH_PORT=7212, HEALTH_HTTP_PORT=8008.
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="ModelOpsCoordinator", service_port=7211, health_port=7212, health_http_port=8008)

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
