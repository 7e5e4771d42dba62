"""RealTimeAudioPipeline (demo). In the fleet it listens on 6552/6553 and a websocket on 5802 inside the container (family-torch-cu121).

Ports (env var = default): SERVICE_PORT=6552, HEALTH_PORT=6553, HEALTH_HTTP_PORT=6554 (HEALTH_PORT + 1), WEBSOCKET_PORT=5802.
The server itself is the family library's (base-python: /opt/demo/demo_server.py).
"""
from demo_server import Service, run

SERVICE = Service(name="RealTimeAudioPipeline", service_port=6552, health_port=6553, extra_ports={"WEBSOCKET_PORT": 5802})

if __name__ == "__main__":
    raise SystemExit(run(SERVICE))
