"""ServiceRegistry (demo). Batch service of the family-web family.

Ports (env var = default): SERVICE_PORT=7200, HEALTH_PORT=8200, HEALTH_HTTP_PORT=8201 (HEALTH_PORT + 1).
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="ServiceRegistry", service_port=7200, health_port=8200)

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
