"""AffectiveProcessingCenter (demo). In the fleet it listens on 5591/5706 with REST health on 8008 inside the container (family-torch-cu121).

Ports (env var = default): SERVICE_PORT=5591, HEALTH_PORT=5706, HEALTH_HTTP_PORT=8008.
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="AffectiveProcessingCenter", service_port=5591, health_port=5706, health_http_port=8008)

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
