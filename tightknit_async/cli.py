"""The ``tightknit-async`` command line: ``import members``, ``bulk``, ``export``, ``request``,
``check-api``, ``serve-fake``, ``demo``.

Exit status: 0 on success; 1 when the work failed (a request, a row); 2 for bad input or
settings; 130 after Ctrl-C (143 after SIGTERM during an import). ``check-api``: 0 when the
replies fit the models, 1 when they drifted, 2 when nothing could be checked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
from collections.abc import Sequence
from typing import Any, Literal

from . import _codec
from ._exceptions import APIStatusError, TightknitError
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__
from .bulk._endpoint import add_bulk_parser
from .bulk._export import add_export_parser
from .bulk._import import add_import_parser

__all__ = ["main"]

_FAKE_RATE = 50  # serve-fake's default limit: the API's


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tightknit-async",
        description="Client, fake server and demo for the Tightknit REST API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="import members through the CLI path against the embedded fake server"
    )
    demo.add_argument(
        "--members", type=int, default=2000, help="members in the generated file (default 2000)"
    )
    demo.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="the fake server's limit and the client's rate, req/s (default 50, the API's cap)",
    )

    add_import_parser(sub)
    add_bulk_parser(sub)
    add_export_parser(sub)

    serve = sub.add_parser("serve-fake", help="run the embedded fake Tightknit server")
    serve.add_argument("--port", type=int, default=8040, help="port on 127.0.0.1 (default 8040)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--drift",
        action="store_true",
        help="alter the GET endpoints' replies the way a live API drifts (for check-api)",
    )
    serve.add_argument(
        "--jitter-ms",
        type=float,
        default=0.0,
        metavar="N",
        help="delay every request a random 0 to N ms (seeded) before the server counts it, as a "
        "network with jitter does (default 0)",
    )
    serve.add_argument(
        "--rate",
        type=int,
        default=_FAKE_RATE,
        metavar="N",
        help="requests per key in any 1 s window, else 429 (default 50, the API's; 0: no limit)",
    )
    serve.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="fault injection, e.g. error_rate=0.1,latency=0.05 (names: latency, "
        "latency_jitter, error_rate, error_status, error_html, drop_after_apply, "
        "conflict_next, retry_after)",
    )
    serve.add_argument(
        "--seed", type=int, default=0, help="seed of the data, the ids and random faults"
    )
    serve.add_argument(
        "--key", metavar="SECRET", help="the API key to accept (default: a new one, printed)"
    )

    request = sub.add_parser(
        "request", help="send one request (key and URL from TIGHTKNIT_API_KEY / _BASE_URL)"
    )
    request.add_argument("method", help="GET, POST, PUT, PATCH or DELETE")
    request.add_argument("path", help="for example /admin/v0/api_key/me")
    request.add_argument("--data", help="a JSON body")
    keys = request.add_mutually_exclusive_group()
    keys.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="a UUIDv4 to send as Idempotency-Key (default: a fresh one for POST, PUT, PATCH and "
        "DELETE, the same on every retry)",
    )
    keys.add_argument(
        "--no-idempotency-key",
        action="store_true",
        help="send no Idempotency-Key (the request is then not resent once it may have reached "
        "the server)",
    )

    check = sub.add_parser(
        "check-api",
        help="call each read-only endpoint once and report where the replies drift from the "
        "models (key and URL from TIGHTKNIT_API_KEY / _BASE_URL)",
        description="Call each read-only endpoint once and report, per endpoint, the fields the "
        "models do not know, required fields sent null or absent, new enum values, values of "
        "another type, and whether the typed decoder refused the reply. 403, 404 and 405 are "
        "reported as not checked. Exit status: 0 no drift, 1 drift found, 2 nothing could be "
        "checked.",
    )
    check.add_argument("--json", action="store_true", help="print the report as one JSON document")
    check.add_argument(
        "--query", default="a", help="the search term for /admin/v0/search (default 'a')"
    )
    return parser


async def _request(
    method: str, path: str, data: str | None, key: str | Literal[False] | NotGiven
) -> int:
    """Send one request; ``key``: a caller's idempotency key, ``NOT_GIVEN`` for a fresh one on a
    mutation (the client's default), ``False`` for none."""
    from ._client import AsyncTightknit

    body: object = NOT_GIVEN
    if data is not None:
        try:
            body = _codec.decode(data.encode())
        except Exception as exc:
            print(f"--data is not valid JSON: {exc}", file=sys.stderr)
            return 2
    async with AsyncTightknit() as tk:
        try:
            response = await tk.request(method, path, json=body, idempotency_key=key)
        except APIStatusError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    sys.stdout.write(_codec.encode(response.data).decode() + "\n")
    return 0


def _import_command(args: argparse.Namespace) -> int:
    from .bulk._import import import_members, options_from_args
    from .bulk._runner import run_job_command

    return run_job_command(lambda: import_members(options_from_args(args)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tightknit-async`` script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from ._demo import run_demo

            if args.members < 1 or not args.rate > 0:
                print("error: --members must be >= 1 and --rate > 0", file=sys.stderr)
                return 2
            return asyncio.run(run_demo(members=args.members, rate=args.rate))
        if args.command == "import":
            return _import_command(args)
        if args.command == "bulk":
            from .bulk._endpoint import bulk_command

            return bulk_command(args)
        if args.command == "export":
            from .bulk._export import export_command

            return export_command(args)
        if args.command == "serve-fake":
            from .testing import Faults, serve_forever

            if not (args.jitter_ms >= 0 and math.isfinite(args.jitter_ms)):
                print("error: --jitter-ms must be a number >= 0", file=sys.stderr)
                return 2
            if args.rate < 0:
                print("error: --rate must be >= 0 (0: no limit)", file=sys.stderr)
                return 2
            try:
                Faults().apply(args.faults)
            except ValueError as exc:
                print(f"error: --faults: {exc}", file=sys.stderr)
                return 2
            # only the options given, so serve_forever's defaults stay its own
            options: dict[str, Any] = {}
            if args.jitter_ms:
                options["network_delay"] = (0.0, args.jitter_ms / 1000)
            if args.rate != _FAKE_RATE:
                options["rate_limit"] = args.rate or None
            if args.faults:
                options["faults"] = args.faults
            if args.seed:
                options["seed"] = args.seed
            if args.key is not None:
                options["api_key"] = args.key
            serving = serve_forever(args.port, args.host, drift=args.drift, **options)
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(serving)
            return 0
        if args.command == "check-api":
            from ._check_api import check_api_command

            return asyncio.run(check_api_command(as_json=args.json, query=args.query))
        key: str | Literal[False] | NotGiven = NOT_GIVEN
        if args.no_idempotency_key:
            key = False
        elif args.idempotency_key is not None:
            key = args.idempotency_key
        return asyncio.run(_request(args.method, args.path, args.data, key))
    except (TightknitError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
