"""Online serving under load, side by side: our service vs `mlflow models serve`, same model.

    .venv/bin/python bench/bench_serving.py            # ~3 min (+ ~2 min to build a data home)
    .venv/bin/python bench/bench_serving.py --quick    # shorter runs
    .venv/bin/python bench/bench_serving.py --home .mlops   # an existing data home (make demo)

Both servers run on 127.0.0.1 with the churn champion: ours (`mlops-assets serve`, ONNX) with
the features read from the online store (`ids`) or sent by the caller (`instances`), and
MLflow's scoring server (`mlflow models serve --env-manager local`, the native model through
pyfunc) with the same features sent as `dataframe_records`. One entity per request. A closed
loop of N keep-alive connections (raw asyncio HTTP/1.1 in this process, see `load`) sends
requests back to back for a fixed time at N = 1, 8 and 32; per server and N it prints
p50/p95/p99 latency, throughput and the error rate, then the throughput ratio and each
server's resident memory. The load generator shares the machine's cores with the servers, as
a sidecar would; read the ratios, not the absolute numbers. Results: bench/results/serving.json.

Goals (the serving issue): p99 <= 10 ms at 32 clients, zero errors, throughput >= 5x MLflow's
server, resident memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import duckdb
import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.net import free_port  # noqa: E402

MODEL = "churn"
CONCURRENCY = (1, 8, 32)


def build_home(root: Path) -> Path:
    from mlops_assets.datasets.simulator import SimulationConfig, simulate

    home = root / "home"
    simulate(SimulationConfig(days=40, customers=1500, seed=5), home / "landing")
    env = {**os.environ, "MLOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    print("building a data home (simulate 40 days x 1,500 customers, materialize)...", flush=True)
    subprocess.run(
        [str(BIN / "mlops-assets"), "materialize"], env=env, check=True, capture_output=True
    )
    return home


def sample(home: Path, n: int = 500) -> tuple[list[str], list[dict]]:
    """Ids scored on the newest day, with the inputs they were scored on."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        frame = con.execute(
            f"SELECT * FROM monitoring.{MODEL}_predictions "
            f"WHERE score_date = (SELECT max(score_date) FROM monitoring.{MODEL}_predictions) "
            f"ORDER BY customer_id LIMIT {n}"
        ).df()
    features = [
        c for c in frame.columns if c not in {"score_date", "score", "model_version", "customer_id"}
    ]
    return frame["customer_id"].tolist(), frame[features].to_dict("records")


def start(cmd: list[str], env: dict, port: int, probe: str, log: Path) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"{cmd[0]} not ready in 120 s: {log.read_text()[-2000:]}")


def _request(path: str, host: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


async def _response_status(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response off a keep-alive connection; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status


async def load(url: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    """A closed loop of `clients` keep-alive connections sending requests back to back.

    The client is raw asyncio HTTP/1.1 with the requests encoded once beforehand (~20 µs of
    CPU per request, against ~1 ms for an httpx client): on a 2-core machine the load
    generator shares the cores with the servers, and a heavy client would be what is measured.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port
    requests = [_request(parts.path, f"{host}:{port}", b) for b in bodies]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        i = offset
        try:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                writer.write(requests[i % len(requests)])
                i += clients
                try:
                    ok = await _response_status(reader) == 200
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                latencies.append(time.perf_counter() - t)
                errors += not ok
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "error_rate": errors / max(len(latencies), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="an existing data home with a churn champion")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 4.0 if args.quick else 10.0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home.resolve() if args.home else build_home(Path(tmp))
        ids, rows = sample(home)
        env = {**os.environ, "MLOPS_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}"}
        env.pop("MLOPS_ENV", None)
        ours_port, mlflow_port = free_port(), free_port()
        ours = start(
            [str(BIN / "mlops-assets"), "serve", "--port", str(ours_port)],
            env,
            ours_port,
            "/readyz",
            Path(tmp) / "ours.log",
        )
        mlflow_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow/mlflow.db"}
        mlflow = start(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL}@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
            ],
            mlflow_env,
            mlflow_port,
            "/ping",
            Path(tmp) / "mlflow.log",
        )
        targets = {
            "ours (ids, online features)": (
                f"http://127.0.0.1:{ours_port}/v1/models/{MODEL}/predict",
                [{"ids": [i]} for i in ids],
            ),
            "ours (instances)": (
                f"http://127.0.0.1:{ours_port}/v1/models/{MODEL}/predict",
                [{"instances": [r]} for r in rows],
            ),
            "mlflow models serve": (
                f"http://127.0.0.1:{mlflow_port}/invocations",
                [{"dataframe_records": [r]} for r in rows],
            ),
        }
        results: dict[str, dict] = {}
        try:
            for name, (url, bodies) in targets.items():
                asyncio.run(load(url, bodies, 4, 1.0))  # warm up
                results[name] = {
                    str(n): asyncio.run(load(url, bodies, n, seconds)) for n in CONCURRENCY
                }
            memory = {
                "ours_rss_mb": psutil.Process(ours.pid).memory_info().rss / 2**20,
                "mlflow_rss_mb": sum(
                    p.memory_info().rss
                    for p in [
                        psutil.Process(mlflow.pid),
                        *psutil.Process(mlflow.pid).children(True),
                    ]
                )
                / 2**20,
            }
        finally:
            for proc in (ours, mlflow):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.terminate()
                proc.terminate()
                proc.wait(timeout=30)
    print(
        f"\n{'server':30} {'N':>3} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}"
    )
    for name, by_n in results.items():
        for n, r in by_n.items():
            print(
                f"{name:30} {n:>3} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} "
                f"{r['p99_ms']:8.2f} {r['error_rate']:7.2%}"
            )
    ratios = {
        n: results["ours (instances)"][str(n)]["rps"]
        / results["mlflow models serve"][str(n)]["rps"]
        for n in CONCURRENCY
    }
    ratios_ids = {
        n: results["ours (ids, online features)"][str(n)]["rps"]
        / results["mlflow models serve"][str(n)]["rps"]
        for n in CONCURRENCY
    }
    print(
        "\nthroughput ours / mlflow (same features sent):",
        ", ".join(f"N={n}: {r:.1f}x" for n, r in ratios.items()),
    )
    print(
        "throughput ours (online features) / mlflow:",
        ", ".join(f"N={n}: {r:.1f}x" for n, r in ratios_ids.items()),
    )
    print(
        f"resident memory: ours {memory['ours_rss_mb']:.0f} MB, "
        f"mlflow {memory['mlflow_rss_mb']:.0f} MB"
    )
    p99_32 = results["ours (ids, online features)"]["32"]["p99_ms"]
    goals = {
        "p99_ms_at_32<=10": p99_32 <= 10,
        "zero_errors": all(
            r["error_rate"] == 0
            for name, by_n in results.items()
            if name.startswith("ours")
            for r in by_n.values()
        ),
        "throughput>=5x_mlflow": min(ratios.values()) >= 5,
        "rss_mb<=300": memory["ours_rss_mb"] <= 300,
    }
    print("goals:", ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in goals.items()))
    out = {
        "results": results,
        "throughput_ratio_instances": ratios,
        "throughput_ratio_ids": ratios_ids,
        "memory": memory,
        "goals": goals,
        "seconds_per_point": seconds,
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (ROOT / "bench" / "results" / "serving.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
