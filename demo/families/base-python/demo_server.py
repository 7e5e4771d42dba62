"""Shared demo server of the ai-fleet demo services (stdlib only).

Every demo service is a few lines that call ``run(Service(...))``; the serving logic lives here,
once, in the base-python family image (/opt/demo/demo_server.py).

Listeners (ports come from env vars, defaults from the service's own code):
  SERVICE_PORT      HTTP: GET / (who am I), GET /profile
  HEALTH_PORT       plain TCP stand-in for the fleet's ZMQ REP health socket: answers one JSON
                    line and closes (it does not speak HTTP, like the real one)
  HEALTH_HTTP_PORT  HTTP: GET /health, GET /profile (default HEALTH_PORT + 1)
  extra ports       e.g. WEBSOCKET_PORT: plain HTTP listeners answering GET /

Switches for testing a health gate:
  DEMO_HEALTH=ok|degraded|nonjson|down   (down: never listens on HEALTH_HTTP_PORT)
  DEMO_START_DELAY_S=N                   starting for N s: 503 {"status":"starting"} or, with
  DEMO_START_MODE=503|closed             DEMO_START_MODE=closed, the health HTTP port is not open

Dependencies (what the fleet's startup configs call `dependencies`):
  FLEET_DEPENDENCIES=Name=http://host:port/health,...   /health answers 503 {"status":"starting",
                    "waiting_for": [...]} until every one of them has answered {"status":"ok"}

Writes nothing (read-only root is fine) and exits promptly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional

PROFILE_KEYS = (
    "MACHINE",
    "GPU_VISIBLE_DEVICES",
    "TORCH_CUDA_ALLOC_CONF",
    "TORCH_CUDA_ARCH_LIST",
    "OMP_NUM_THREADS",
    "UVICORN_WORKERS",
    "MODEL_EVICT_THRESHOLD_PCT",
    "MAX_CONCURRENT_MODELS",
    "BATCH_SIZE_DEFAULT",
    "MEMORY_FRACTION",
    "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE",
)
HEALTH_MODES = ("ok", "degraded", "nonjson", "down")
BUILD_INFO_PATH = "/app/build-info.json"


@dataclass(frozen=True)
class Service:
    """What a service declares about itself: its name and default container ports."""

    name: str
    service_port: int
    health_port: int
    health_http_port: Optional[int] = None  # default: health_port + 1
    extra_ports: Dict[str, int] = field(default_factory=dict)  # env var name -> default port


@dataclass(frozen=True)
class Settings:
    """The service's ports and switches after reading the environment."""

    service_port: int
    health_port: int
    health_http_port: int
    extra_ports: Dict[str, int]
    health_mode: str
    start_delay_s: float
    start_mode: str
    host: str
    dependencies: Dict[str, str] = field(default_factory=dict)  # name -> health URL


def parse_dependencies(raw: str) -> Dict[str, str]:
    """FLEET_DEPENDENCIES ("A=http://a:1/health,B=http://b:2/health") as {name: url}."""
    deps: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise SystemExit(f"demo_server: FLEET_DEPENDENCIES entry {item!r}, expected Name=http://host:port/path")
        deps[name] = url
    return deps


def _env_int(env: Dict[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"demo_server: {key}={raw!r} is not an integer port") from None
    if not 0 < value < 65536:
        raise SystemExit(f"demo_server: {key}={value} is out of range 1..65535")
    return value


def settings(svc: Service, env: Optional[Dict[str, str]] = None) -> Settings:
    env = dict(os.environ if env is None else env)
    health_port = _env_int(env, "HEALTH_PORT", svc.health_port)
    default_http = svc.health_http_port if svc.health_http_port is not None else health_port + 1
    mode = env.get("DEMO_HEALTH", "ok").strip().lower() or "ok"
    if mode not in HEALTH_MODES:
        raise SystemExit(f"demo_server: DEMO_HEALTH={mode!r}, expected one of {', '.join(HEALTH_MODES)}")
    start_mode = env.get("DEMO_START_MODE", "503").strip().lower() or "503"
    if start_mode not in ("503", "closed"):
        raise SystemExit(f"demo_server: DEMO_START_MODE={start_mode!r}, expected 503 or closed")
    try:
        delay = float(env.get("DEMO_START_DELAY_S", "0") or 0)
    except ValueError:
        raise SystemExit("demo_server: DEMO_START_DELAY_S must be a number of seconds") from None
    return Settings(
        service_port=_env_int(env, "SERVICE_PORT", svc.service_port),
        health_port=health_port,
        health_http_port=_env_int(env, "HEALTH_HTTP_PORT", default_http),
        extra_ports={k: _env_int(env, k, v) for k, v in svc.extra_ports.items()},
        health_mode=mode,
        start_delay_s=max(0.0, delay),
        start_mode=start_mode,
        host=env.get("DEMO_BIND", "0.0.0.0"),
        dependencies=parse_dependencies(env.get("FLEET_DEPENDENCIES", "")),
    )


def build_info(path: str = BUILD_INFO_PATH) -> Dict[str, object]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        return {"error": f"{path}: {exc}"}


class App:
    """State shared by all listeners of one service process."""

    def __init__(self, svc: Service, cfg: Settings) -> None:
        self.svc = svc
        self.cfg = cfg
        self.started = time.monotonic()
        self.stopping = threading.Event()
        # Dependencies not yet seen healthy; once all have been, the service stays ready.
        self.waiting_for = sorted(cfg.dependencies)
        self.lock = threading.Lock()

    def check_dependencies(self, timeout_s: float = 1.0) -> List[str]:
        """Asks each dependency not yet seen healthy; returns those still waited for."""
        still = []
        for name in self.waiting_for:
            try:
                with urllib.request.urlopen(self.cfg.dependencies[name], timeout=timeout_s) as resp:
                    ok = json.loads(resp.read()).get("status") == "ok"
            except (OSError, ValueError, urllib.error.URLError, AttributeError):
                ok = False
            if not ok:
                still.append(name)
        with self.lock:
            self.waiting_for = still
        return still

    def watch_dependencies(self, interval_s: float = 0.5) -> None:
        while self.waiting_for and not self.stopping.is_set():
            if self.check_dependencies():
                self.stopping.wait(interval_s)

    def uptime(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def starting(self) -> bool:
        return self.uptime() < self.cfg.start_delay_s or bool(self.waiting_for)

    def identity(self) -> Dict[str, object]:
        return {
            "service": self.svc.name,
            "machine": os.environ.get("MACHINE", ""),
            "uptime_s": self.uptime(),
            "pid": os.getpid(),
        }

    def ports(self) -> Dict[str, int]:
        ports = {
            "SERVICE_PORT": self.cfg.service_port,
            "HEALTH_PORT": self.cfg.health_port,
            "HEALTH_HTTP_PORT": self.cfg.health_http_port,
        }
        ports.update(self.cfg.extra_ports)
        return ports

    def health(self) -> tuple:
        """(http status, content type, body) of GET /health right now."""
        if self.starting():
            return 503, "application/json", {"status": "starting", "waiting_for": list(self.waiting_for), **self.identity()}
        mode = self.cfg.health_mode
        if mode == "nonjson":
            return 200, "text/plain", "OK"
        status = "degraded" if mode == "degraded" else "ok"
        return 200, "application/json", {"status": status, **self.identity(), "ports": self.ports()}

    def profile(self) -> Dict[str, object]:
        return {
            "service": self.svc.name,
            "env": {k: os.environ.get(k) for k in PROFILE_KEYS},
            "uid": os.getuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "ports": self.ports(),
            "build": build_info(),
            "python": sys.version.split()[0],
            "hostname": socket.gethostname(),
        }


def _handler(app: App, role: str) -> type:
    routes: Dict[str, Callable[[], tuple]] = {"/profile": lambda: (200, "application/json", app.profile())}
    if role == "health-http":
        routes["/health"] = app.health
    else:
        routes["/"] = lambda: (200, "application/json", {**app.identity(), "role": role, "ports": app.ports()})

    class Handler(BaseHTTPRequestHandler):
        server_version = "ai-fleet-demo/1"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            route = routes.get(path)
            if route is None:
                code, ctype, body = 404, "application/json", {"error": f"no route {path}", "routes": sorted(routes)}
            else:
                code, ctype, body = route()
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stdout.write(f"[{app.svc.name}] {role} {self.address_string()} {fmt % args}\n")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _RepHandler(socketserver.StreamRequestHandler):
    """Stand-in for the ZMQ REP health socket: reads one line (or waits briefly), answers JSON."""

    app: App

    def handle(self) -> None:
        self.request.settimeout(2.0)
        try:
            self.rfile.readline(1024)
        except OSError:
            pass
        status = "starting" if self.app.starting() else ("degraded" if self.app.cfg.health_mode == "degraded" else "ok")
        self.wfile.write((json.dumps({"status": status, **self.app.identity()}) + "\n").encode())


class _RepServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(server: socketserver.BaseServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
    thread.start()
    return thread


def run(svc: Service, argv: Optional[List[str]] = None) -> int:
    """Entry point of a demo service. ``--probe`` checks the health endpoint instead (for HEALTHCHECK)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--probe" in argv:
        return probe(svc)
    cfg = settings(svc)
    app = App(svc, cfg)
    servers: List[socketserver.BaseServer] = []

    def listen(factory: Callable[[], socketserver.BaseServer], name: str) -> None:
        try:
            srv = factory()
        except OSError as exc:
            raise SystemExit(f"[{svc.name}] cannot listen for {name}: {exc}") from None
        servers.append(srv)
        _serve(srv, name)

    addr = cfg.host
    listen(lambda: _Server((addr, cfg.service_port), _handler(app, "service")), "service")
    rep = type("Rep", (_RepHandler,), {"app": app})
    listen(lambda: _RepServer((addr, cfg.health_port), rep), "health")
    for key, port in cfg.extra_ports.items():
        listen(lambda p=port, k=key: _Server((addr, p), _handler(app, k.lower())), key)

    def open_health_http() -> None:
        if cfg.start_mode == "closed" and cfg.start_delay_s > 0:
            if app.stopping.wait(cfg.start_delay_s):
                return
        listen(lambda: _Server((addr, cfg.health_http_port), _handler(app, "health-http")), "health-http")

    if cfg.health_mode != "down":
        threading.Thread(target=open_health_http, name="health-http-opener", daemon=True).start()
    if app.waiting_for:
        print(f"[{svc.name}] waiting for {', '.join(app.waiting_for)} to answer ok", flush=True)
        threading.Thread(target=app.watch_dependencies, name="dependencies", daemon=True).start()

    def on_signal(signum: int, _frame: object) -> None:
        print(f"[{svc.name}] signal {signal.Signals(signum).name}: shutting down", flush=True)
        app.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"[{svc.name}] up: ports {json.dumps(app.ports())} health={cfg.health_mode} "
        f"start_delay_s={cfg.start_delay_s} start_mode={cfg.start_mode} machine={os.environ.get('MACHINE', '')!r} "
        f"uid={os.getuid()}",
        flush=True,
    )
    while not app.stopping.wait(0.5):
        pass
    # Shut the listeners down in parallel: each shutdown() waits for one poll interval.
    stoppers = [threading.Thread(target=srv.shutdown) for srv in list(servers)]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(timeout=2.0)
    for srv in list(servers):
        srv.server_close()
    print(f"[{svc.name}] stopped", flush=True)
    return 0


def probe(svc: Service) -> int:
    """Exit 0 when GET /health on the health HTTP port answers 200 with JSON status "ok"."""
    cfg = settings(svc)
    url = f"http://127.0.0.1:{cfg.health_http_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            body = json.loads(resp.read().decode() or "null")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"probe {url}: {exc}", file=sys.stderr)
        return 1
    ok = isinstance(body, dict) and body.get("status") == "ok"
    if not ok:
        print(f"probe {url}: status {body.get('status') if isinstance(body, dict) else body!r}", file=sys.stderr)
    return 0 if ok else 1


def write_build_info(out: str, service_file: str, args: List[str]) -> None:
    """Build time: record the service (name, default ports, read from its own SERVICE) and the
    KEY=VALUE build args (MACHINE, TORCH_CUDA_ARCH_LIST, BASE_IMAGE, ...) as JSON."""
    import runpy

    svc = runpy.run_path(service_file, run_name="__build__").get("SERVICE")
    if not isinstance(svc, Service):
        raise SystemExit(f"demo_server: {service_file} defines no SERVICE = Service(...)")
    info: Dict[str, object] = {"service": svc.name, "default_ports": App(svc, settings(svc, {})).ports()}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"demo_server: build arg {item!r} is not KEY=VALUE")
        info[key.lower()] = value
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    # python3 -m demo_server build-info OUT SERVICE_FILE KEY=VALUE...
    if len(sys.argv) >= 4 and sys.argv[1] == "build-info":
        # Through the importable module, so Service is the same class the service file imports.
        import demo_server

        demo_server.write_build_info(sys.argv[2], sys.argv[3], sys.argv[4:])
        sys.exit(0)
    sys.exit("usage: python3 -m demo_server build-info OUT SERVICE_FILE [KEY=VALUE...]")
