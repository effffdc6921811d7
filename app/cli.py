"""``backprop-lens serve [--host 127.0.0.1] [--port 8000] [--reload]``."""

from __future__ import annotations

import argparse

import uvicorn

from app.paths import ROOT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="backprop-lens", description="Backprop Lens: see every number of backprop.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the app with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--reload", action="store_true", help="restart when a source file changes (development)")
    args = parser.parse_args(argv)
    print(f"Backprop Lens on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        # templates are re-read when they change and static URLs carry a content hash: only code needs a restart
        reload_dirs=[str(ROOT / "app"), str(ROOT / "engine")] if args.reload else None,
    )


if __name__ == "__main__":
    main()
