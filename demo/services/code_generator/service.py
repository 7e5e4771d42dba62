"""CodeGenerator (demo). Gated by the canary: it needs SystemDigitalTwin and ModelOpsCoordinator,
and the canary does not need it (base-cpu-pydeps in the fleet; family-web stands in for it here).

Ports (env var = default): SERVICE_PORT=5650, HEALTH_PORT=6650, HEALTH_HTTP_PORT=6651 (HEALTH_PORT + 1).
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="CodeGenerator", service_port=5650, health_port=6650)

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
