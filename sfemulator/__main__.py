"""CLI: ``python -m sfemulator {serve,seed,churn}`` (see docs/emulator.md)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from .churn import DELETE_SHARE, OBJECTS
from .config import DEFAULT_SESSION_TTL_S, Credentials


def _add_credential_flags(p: argparse.ArgumentParser) -> None:
    for name in Credentials.__dataclass_fields__:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                       help=f"override {name} (env SFEMU_{name.upper()})")


def _creds(args: argparse.Namespace) -> Credentials:
    return Credentials.from_env(**{n: getattr(args, n) for n in Credentials.__dataclass_fields__})


def _faults(args: argparse.Namespace) -> dict:
    """Fault-injection flags of ``serve`` -> the /_emulator/faults JSON shape."""
    spec: dict = json.loads(args.faults) if args.faults else {}
    if args.latency_ms is not None:
        spec["latency_ms"] = args.latency_ms
    if args.daily_api_limit is not None:
        spec["daily_api_limit"] = args.daily_api_limit
    if args.http_503 is not None:
        spec["http_503"] = {"count": args.http_503}
    if args.unable_to_lock_row is not None:
        spec["unable_to_lock_row"] = {"count": args.unable_to_lock_row}
    return spec


def cmd_serve(args: argparse.Namespace) -> int:
    from .errors import ApiError
    from .faults import Faults
    from .server import EmulatorServer, PortInUse

    faults = Faults()
    try:
        faults.configure(_faults(args))
    except (ValueError, ApiError) as exc:
        print(f"sfemulator: invalid fault settings: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(args.data_dir, args.host, args.port, seed=args.seed, creds=_creds(args),
                            session_ttl_s=args.session_ttl, access_log=args.access_log, faults=faults,
                            pubsub_port=args.pubsub_port)
    ca_display = Path(args.data_dir) / "tls" / "ca.pem"

    def ready() -> None:
        print(f"sfemulator ready on {server.url} (CA: {ca_display}; Pub/Sub API on {server.pubsub_address})",
              flush=True)

    try:
        server.prepare(on_ready=ready)
    except PortInUse as exc:
        print(f"sfemulator: cannot listen on {args.host}:{exc.port}: port {exc.port} is already in use",
              file=sys.stderr)
        return 2
    # uvicorn captures SIGINT/SIGTERM while serving and re-raises them afterwards;
    # these handlers make that re-raise a no-op so shutdown ends with status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    server.serve_forever()
    print("sfemulator stopped", flush=True)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from .schema import OBJECTS
    from .seed import seed_org
    from .store import Store

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "org.sqlite3"
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store(db)
    try:
        if not store.is_empty():
            print(f"sfemulator: {db} already holds records; use --reset to re-seed from scratch",
                  file=sys.stderr)
            return 1
        started = time.monotonic()
        counts = seed_org(store, args.accounts)
    finally:
        store.close()
    summary = ", ".join(f"{n} {OBJECTS[name].label_plural}" for name, n in counts.items())
    print(f"seeded {summary} in {time.monotonic() - started:.1f}s into {db}", flush=True)
    return 0


def cmd_churn(args: argparse.Namespace) -> int:
    from .churn import run

    stop = threading.Event()
    try:
        run(args.url, args.ca, args.rate, args.duration, [o.strip() for o in args.objects.split(",") if o.strip()],
            creds=_creds(args), stop=stop, out=lambda line: print(line, flush=True), ui=not args.api,
            delete_share=args.delete_share)
    except KeyboardInterrupt:
        print("churn interrupted", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sfemulator", description="Offline Salesforce org emulator")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the emulated org over HTTPS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--pubsub-port", type=int, default=0, metavar="PORT",
                       help="Pub/Sub API (gRPC over TLS) port; 0 picks a free one (default)")
    serve.add_argument("--data-dir", required=True)
    serve.add_argument("--seed", type=int, default=None, metavar="N",
                       help="seed N Accounts (plus related records) if the org is empty")
    serve.add_argument("--session-ttl", type=int, default=DEFAULT_SESSION_TTL_S, metavar="SECONDS")
    serve.add_argument("--access-log", action="store_true")
    serve.add_argument("--faults", default=None, metavar="JSON",
                       help='initial faults, as POST /_emulator/faults, e.g. \'{"http_503": {"count": 2}}\'')
    serve.add_argument("--latency-ms", type=int, default=None, help="delay every REST API response")
    serve.add_argument("--daily-api-limit", type=int, default=None, help="lower DailyApiRequests Max")
    serve.add_argument("--http-503", type=int, default=None, metavar="N", help="fail the next N API calls with 503")
    serve.add_argument("--unable-to-lock-row", type=int, default=None, metavar="N",
                       help="fail the next N record writes with UNABLE_TO_LOCK_ROW")
    _add_credential_flags(serve)
    serve.set_defaults(func=cmd_serve)

    seed = sub.add_parser("seed", help="seed the demo org deterministically")
    seed.add_argument("--data-dir", required=True)
    seed.add_argument("--accounts", type=int, default=1000)
    seed.add_argument("--reset", action="store_true", help="delete the existing org first")
    seed.set_defaults(func=cmd_seed)

    churn = sub.add_parser("churn", help="keep changing records as users in the UI would (or through the API)")
    churn.add_argument("--url", required=True)
    churn.add_argument("--ca", required=True)
    churn.add_argument("--rate", type=float, default=5.0, help="operations per second")
    churn.add_argument("--duration", type=float, default=None, metavar="SECONDS")
    churn.add_argument("--objects", default=",".join(OBJECTS))
    churn.add_argument("--api", action="store_true",
                       help="edit through the REST API (counted in DailyApiRequests), not as UI users")
    churn.add_argument("--delete-share", type=float, default=DELETE_SHARE, metavar="SHARE",
                       help="share of operations that delete a record (default %(default)s; creates are 0.2)")
    _add_credential_flags(churn)
    churn.set_defaults(func=cmd_churn)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
