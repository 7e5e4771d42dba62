"""SystemDigitalTwin (demo). Batch service (base-cpu-pydeps in the fleet; base-python stands in for it here).

Ports (env var = default): SERVICE_PORT=7220, HEALTH_PORT=8220, HEALTH_HTTP_PORT=8221 (HEALTH_PORT + 1).
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="SystemDigitalTwin", service_port=7220, health_port=8220)

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
