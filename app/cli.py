"""``backprop-lens serve [--host 127.0.0.1] [--port 8000] [--workers N] [--reload]``."""

from __future__ import annotations

import argparse
import os

import uvicorn

from app.paths import ROOT
from app.serve import uvicorn_options
from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="backprop-lens", description="Backprop Lens: see every number of backprop.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the app with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")),
                       help="worker processes (default: $WORKERS or 1; one per core is a good start)")
    serve.add_argument("--forwarded-allow-ips", default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                       help="the reverse proxies whose X-Forwarded-* headers are trusted (default: %(default)s)")
    serve.add_argument("--reload", action="store_true", help="restart when a source file changes (development)")
    args = parser.parse_args(argv)
    if args.reload and args.workers > 1:
        parser.error("--reload runs one worker")
    print(f"Backprop Lens on http://{args.host}:{args.port}/ ({args.workers} worker{'s' * (args.workers > 1)})",
          flush=True)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        # templates are re-read when they change and static URLs carry a content hash: only code needs a restart
        reload_dirs=[str(ROOT / "app"), str(ROOT / "engine")] if args.reload else None,
        forwarded_allow_ips=args.forwarded_allow_ips,
        **uvicorn_options(get_settings()),
    )


if __name__ == "__main__":
    main()
