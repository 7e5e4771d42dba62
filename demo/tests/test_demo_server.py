"""Unit tests of the shared demo server (stdlib only): python3 -m unittest discover -s demo/tests"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.dirname(HERE)
LIB = os.path.join(DEMO, "families", "base-python")
sys.path.insert(0, LIB)

import demo_server  # noqa: E402
from demo_server import Service, settings  # noqa: E402

SVC = Service(name="T", service_port=7211, health_port=7212, health_http_port=8008)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SettingsTest(unittest.TestCase):
    def test_defaults_come_from_the_service(self):
        cfg = settings(SVC, {})
        self.assertEqual((cfg.service_port, cfg.health_port, cfg.health_http_port), (7211, 7212, 8008))
        self.assertEqual(cfg.health_mode, "ok")

    def test_health_http_defaults_to_health_port_plus_one(self):
        cfg = settings(Service(name="X", service_port=7200, health_port=8200), {"HEALTH_PORT": "9000"})
        self.assertEqual(cfg.health_http_port, 9001)

    def test_env_overrides_and_bad_values_fail_loudly(self):
        cfg = settings(SVC, {"SERVICE_PORT": "1", "HEALTH_HTTP_PORT": "2", "DEMO_HEALTH": "Degraded"})
        self.assertEqual((cfg.service_port, cfg.health_http_port, cfg.health_mode), (1, 2, "degraded"))
        for env in ({"SERVICE_PORT": "x"}, {"HEALTH_PORT": "70000"}, {"DEMO_HEALTH": "maybe"}, {"DEMO_START_MODE": "x"}):
            with self.assertRaises(SystemExit, msg=env):
                settings(SVC, env)

    def test_build_info_records_service_and_args(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "service.py")
            with open(src, "w") as fh:
                fh.write("from demo_server import Service\nSERVICE = Service(name='B', service_port=1, health_port=2)\n")
            out = os.path.join(tmp, "bi.json")
            demo_server.write_build_info(out, src, ["MACHINE=pc2", "TORCH_CUDA_ARCH_LIST=8.6"])
            with open(out) as fh:
                info = json.load(fh)
        self.assertEqual(info["service"], "B")
        self.assertEqual(info["machine"], "pc2")
        self.assertEqual(info["torch_cuda_arch_list"], "8.6")
        self.assertEqual(info["default_ports"]["HEALTH_HTTP_PORT"], 3)


class ProcessTest(unittest.TestCase):
    """Runs a real service process on free loopback ports."""

    def start(self, **env):
        ports = {"SERVICE_PORT": free_port(), "HEALTH_PORT": free_port(), "HEALTH_HTTP_PORT": free_port()}
        full = dict(os.environ, PYTHONPATH=LIB, DEMO_BIND="127.0.0.1", MACHINE="unit", **{k: str(v) for k, v in ports.items()}, **env)
        proc = subprocess.Popen(
            [sys.executable, os.path.join(DEMO, "services", "model_ops_coordinator", "service.py")],
            env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(), proc.stdout.close()))
        self.wait_port(ports["SERVICE_PORT"])
        return proc, ports

    @staticmethod
    def wait_port(port, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"port {port} never opened")

    @staticmethod
    def get(port, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_ok_health_profile_and_sigterm(self):
        proc, ports = self.start(OMP_NUM_THREADS="3")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        code, body = self.get(ports["HEALTH_HTTP_PORT"], "/health")
        self.assertEqual(code, 200)
        health = json.loads(body)
        self.assertEqual((health["status"], health["service"], health["machine"]), ("ok", "ModelOpsCoordinator", "unit"))
        profile = json.loads(self.get(ports["SERVICE_PORT"], "/profile")[1])
        self.assertEqual(profile["env"]["OMP_NUM_THREADS"], "3")
        self.assertIsNone(profile["env"]["GPU_VISIBLE_DEVICES"])
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_degraded_and_nonjson(self):
        _, ports = self.start(DEMO_HEALTH="degraded")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        self.assertEqual(json.loads(self.get(ports["HEALTH_HTTP_PORT"], "/health")[1])["status"], "degraded")
        _, ports = self.start(DEMO_HEALTH="nonjson")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        self.assertEqual(self.get(ports["HEALTH_HTTP_PORT"], "/health"), (200, "OK"))

    def test_down_never_listens(self):
        _, ports = self.start(DEMO_HEALTH="down")
        time.sleep(0.5)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", ports["HEALTH_HTTP_PORT"]), 0.5).close()

    def test_start_delay_503_then_ok(self):
        _, ports = self.start(DEMO_START_DELAY_S="1.5")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        code, body = self.get(ports["HEALTH_HTTP_PORT"], "/health")
        self.assertEqual((code, json.loads(body)["status"]), (503, "starting"))
        time.sleep(1.6)
        self.assertEqual(json.loads(self.get(ports["HEALTH_HTTP_PORT"], "/health")[1])["status"], "ok")

    def test_starting_until_every_dependency_answers_ok(self):
        _, dep = self.start(DEMO_START_DELAY_S="1.5")
        dep_url = f"http://127.0.0.1:{dep['HEALTH_HTTP_PORT']}/health"
        _, ports = self.start(FLEET_DEPENDENCIES=f"Registry={dep_url}")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        code, body = self.get(ports["HEALTH_HTTP_PORT"], "/health")
        self.assertEqual((code, json.loads(body)["status"], json.loads(body)["waiting_for"]), (503, "starting", ["Registry"]))
        deadline = time.monotonic() + 5
        while json.loads(self.get(ports["HEALTH_HTTP_PORT"], "/health")[1])["status"] != "ok":
            self.assertLess(time.monotonic(), deadline, "never turned ok after its dependency did")
            time.sleep(0.2)

    def test_a_dependency_that_never_answers_ok_keeps_it_starting(self):
        _, dep = self.start(DEMO_HEALTH="degraded")
        _, ports = self.start(FLEET_DEPENDENCIES=f"Sick=http://127.0.0.1:{dep['HEALTH_HTTP_PORT']}/health")
        self.wait_port(ports["HEALTH_HTTP_PORT"])
        time.sleep(1.5)
        self.assertEqual(json.loads(self.get(ports["HEALTH_HTTP_PORT"], "/health")[1])["status"], "starting")

    def test_bad_dependency_list_fails_loudly(self):
        with self.assertRaises(SystemExit):
            settings(SVC, {"FLEET_DEPENDENCIES": "Registry=not-a-url"})
        self.assertEqual(settings(SVC, {"FLEET_DEPENDENCIES": "A=http://a:1/health, B=http://b:2/health"}).dependencies, {"A": "http://a:1/health", "B": "http://b:2/health"})

    def test_health_port_is_not_http(self):
        _, ports = self.start()
        self.wait_port(ports["HEALTH_PORT"])
        with socket.create_connection(("127.0.0.1", ports["HEALTH_PORT"]), 2) as s:
            s.sendall(b"ping\n")
            line = s.makefile().readline()
        self.assertEqual(json.loads(line)["status"], "ok")


if __name__ == "__main__":
    unittest.main()
